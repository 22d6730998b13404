// Tests read JSON bodies loosely; production code keeps Response.json() as unknown.
declare global {
  interface Response {
    json(): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  }
}
export {};
