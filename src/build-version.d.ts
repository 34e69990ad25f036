// The release's version as the bundle was built with it: .ci/bundle.ts defines PLAIT_BUILD_VERSION from package.json,
// so that `plait --version` answers before any module is loaded. Running from source (tsx, tests) it is not defined,
// and `typeof PLAIT_BUILD_VERSION` is 'undefined'.
declare const PLAIT_BUILD_VERSION: string | undefined;
