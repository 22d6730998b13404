/**
 * Ports for tests: blocks below Linux's ephemeral range, each held by a listening socket on its first
 * port, so that test files running at once (in one checkout or several) never hand out the same port.
 */
import { createServer, type Server } from "node:net";

// Linux hands outgoing connections local ports 32768–60999; a port chosen there collides with busy
// clients. Below it, and above the usual fixed services (PostgreSQL 5432, 8080, 9090, ...).
const FIRST_PORT = 20_000;
const LAST_PORT = 32_767;
const BLOCK_SIZE = 64;
const BLOCKS = Math.floor((LAST_PORT - FIRST_PORT + 1) / BLOCK_SIZE);

/** Ports `from`..`to` (inclusive), free when reserved and handed to nobody else until `release()`. */
export interface PortBlock {
  from: number;
  to: number;
  release(): void;
}

function listenOn(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => resolve(server));
  });
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
export async function bindable(port: number): Promise<boolean> {
  const server = await listenOn(port);
  if (!server) return false;
  await new Promise<void>((done) => server.close(() => done()));
  return true;
}

let nextBlock = process.pid % BLOCKS;

async function lockBlock(start: number, size: number): Promise<PortBlock | undefined> {
  const lock = await listenOn(start);
  if (!lock) return undefined; // another test process holds this block
  lock.unref();
  const ports = Array.from({ length: size }, (_, i) => start + 1 + i);
  if ((await Promise.all(ports.map(bindable))).every(Boolean)) {
    return { from: ports[0]!, to: ports.at(-1)!, release: () => void lock.close() };
  }
  lock.close(); // something outside the tests listens in this block: leave it alone
  return undefined;
}

/**
 * Reserves a block of `size` ports (at most BLOCK_SIZE - 1), the one holding `preferred` when it is
 * free. The lock is a socket listening on the block's first port: an exclusive bind is refused to
 * any other process, and the OS frees it when this process ends however it ends (no lock file left
 * behind by kill -9).
 */
export async function reservePortBlock(size = BLOCK_SIZE - 1, preferred?: number): Promise<PortBlock> {
  if (size < 1 || size > BLOCK_SIZE - 1) throw new Error(`a port block holds 1 to ${BLOCK_SIZE - 1} ports, not ${size}`);
  if (preferred !== undefined && preferred > FIRST_PORT && preferred <= LAST_PORT) {
    const block = await lockBlock(preferred - ((preferred - FIRST_PORT) % BLOCK_SIZE), size);
    if (block) return block;
  }
  for (let tried = 0; tried < BLOCKS; tried++) {
    const block = await lockBlock(FIRST_PORT + (nextBlock++ % BLOCKS) * BLOCK_SIZE, size);
    if (block) return block;
  }
  throw new Error(`no free block of ${size} ports between ${FIRST_PORT} and ${LAST_PORT}`);
}

let loose: { block: PortBlock; next: number } | undefined;

/**
 * A port for a stand-in server or a gantry subprocess: taken from a block this process holds, never
 * handed out twice by it, and bindable when handed over.
 */
export async function reservePort(): Promise<number> {
  for (;;) {
    if (!loose || loose.next > loose.block.to) {
      const block = await reservePortBlock();
      loose = { block, next: block.from };
    }
    const port = loose.next++;
    if (await bindable(port)) return port;
  }
}

/** The environment that gives a gantry subprocess the model-server port range `block`. */
export function portRangeEnv(block: PortBlock): Record<string, string> {
  return { GANTRY_PLUGIN__INSTANCES__PORT_RANGE: `[${block.from}, ${block.to}]` };
}
