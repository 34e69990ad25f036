// Types of the two undici modules src/transports/http.ts imports by their paths inside the package (undici ships
// types for its index only). They are what the index hands out as Agent and as the request method it mixes into
// every dispatcher.
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici';
  const AgentClass: typeof Agent;
  export default AgentClass;
}

declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici';
  const request: (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
  export default request;
}
