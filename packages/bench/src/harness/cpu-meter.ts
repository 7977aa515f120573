/** CPU time this process spent between `start()` and `read()`, as a fraction of one core. */
export class CpuMeter {
  private startCpu = process.cpuUsage();
  private startWall = performance.now();

  start(): void {
    this.startCpu = process.cpuUsage();
    this.startWall = performance.now();
  }

  read(): { coreFraction: number; cpuMs: number; wallMs: number } {
    const used = process.cpuUsage(this.startCpu);
    const wallMs = performance.now() - this.startWall;
    const cpuMs = (used.user + used.system) / 1000;
    return { coreFraction: wallMs > 0 ? cpuMs / wallMs : 0, cpuMs, wallMs };
  }
}
