import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { afterEach, expect, it } from 'vitest';
import { clientOptions } from './support.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const children = new Set<ChildProcess>();

afterEach(async () => {
  for (const child of children) {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
  }
  children.clear();
});

/** Starts main.ts; resolves with its first stdout line and, when it exits instead, its exit code and stderr. */
async function run(args: string[]): Promise<{ line?: string; code?: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=@switchyard/source', '--import', 'tsx', MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const end = stdout.indexOf('\n');
      if (end >= 0) resolve({ line: stdout.slice(0, end), stderr });
    });
    child.once('exit', (code) => {
      children.delete(child);
      resolve({ code, stderr });
    });
  });
}

it('main.ts --members 3 runs a three-member replica set the driver connects to', { timeout: 20_000 }, async () => {
  const { line } = await run(['--members', '3']);
  const started = JSON.parse(line!) as { uri: string; ports: number[] };
  expect(started.ports).toHaveLength(3);
  expect(started.uri).toBe(`mongodb://${started.ports.map((p) => `127.0.0.1:${p}`).join(',')}/?replicaSet=rs0`);
  const client = new MongoClient(started.uri, clientOptions);
  try {
    const hello = await client.db('admin').command({ hello: 1 });
    expect(hello.hosts).toHaveLength(3);
    await client.db('cli').collection('c').insertOne({ n: 1 });
    expect(await client.db('cli').collection('c').countDocuments()).toBe(1);
  } finally {
    await client.close();
  }
});

it('main.ts refuses a bad --members with a readable error and exit status 2', { timeout: 20_000 }, async () => {
  const { code, stderr } = await run(['--members', 'three']);
  expect(code).toBe(2);
  expect(JSON.parse(stderr.trim())).toMatchObject({ error: 'STANDIN_INVALID_OPTION' });
});
