// `import path from ".../wasm" with { type: "file" }` gives the file's path (Bun); kept working under `bun build --compile`.
declare module "@jitl/quickjs-wasmfile-release-sync/wasm" {
  const path: string;
  export default path;
}
