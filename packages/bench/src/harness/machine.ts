import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { workspaceFile } from './paths.js';

const require = createRequire(workspaceFile('packages/bench/package.json'));

function versionOf(pkg: string): string {
  try {
    // Resolve the entry point, then walk up to the package.json: some packages do not export it.
    let directory = require.resolve(pkg);
    for (let step = 0; step < 8; step++) {
      directory = directory.slice(0, directory.lastIndexOf('/'));
      const file = `${directory}/package.json`;
      if (fs.existsSync(file)) {
        const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (json.name === pkg) return json.version ?? '?';
      }
    }
  } catch {
    // Not installed: reported as such.
  }
  return 'not installed';
}

function workspaceVersion(name: string): string {
  try {
    const json = JSON.parse(fs.readFileSync(workspaceFile(`packages/${name}/package.json`), 'utf8')) as {
      version?: string;
    };
    const written = fs.existsSync(workspaceFile(`packages/${name}/src/index.ts`));
    return written ? (json.version ?? '?') : `${json.version ?? '?'} (not written yet)`;
  } catch {
    return 'missing';
  }
}

/** The machine and software a report was measured on. */
export function describeMachine(): { machine: string[]; versions: string[] } {
  const cpus = os.cpus();
  const models = [...new Set(cpus.map((cpu) => cpu.model.trim()))].join(', ');
  const machine = [
    `CPU: ${cpus.length} × ${models}${cpus[0]?.speed ? ` @ ${cpus[0].speed} MHz` : ''}`,
    `Memory: ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB total, ${(os.freemem() / 1024 ** 3).toFixed(1)} GiB free at start`,
    `OS: ${os.type()} ${os.release()} (${os.arch()})`,
  ];
  const versions = [
    `node ${process.version}`,
    `socket.io ${versionOf('socket.io')}, socket.io-client ${versionOf('socket.io-client')}, socket.io-adapter ${versionOf('socket.io-adapter')}, ws ${versionOf('ws')}`,
    `@socket.io/mongo-adapter ${versionOf('@socket.io/mongo-adapter')}, @socket.io/redis-adapter ${versionOf('@socket.io/redis-adapter')}, mongodb driver ${versionOf('mongodb')}, esbuild ${versionOf('esbuild')}`,
    `@switchyard/gateway ${workspaceVersion('gateway')}, @switchyard/client ${workspaceVersion('client')}, @switchyard/mongo-adapter ${workspaceVersion('mongo-adapter')}, @switchyard/mongo-standin ${workspaceVersion('mongo-standin')}`,
  ];
  return { machine, versions };
}
