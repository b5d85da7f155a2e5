import type { AuthService, Principal } from "./auth-service.js";

/**
 * Keeps asking whether the principal of a long-lived connection (a WebSocket feed, an event
 * stream) may still have it: the handshake's check alone would let a signed-out, disabled or
 * demoted user keep reading. `fresh()` asks again when the last answer is older than `maxAgeMs`
 * (call it before sending anything); a timer asks every `everyMs` so an idle connection ends too.
 * Once access is gone, `onRevoked` runs (once) and every later `fresh()` is false.
 */
export class AccessWatch {
  private checkedAt = Date.now();
  private revoked = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly auth: Pick<AuthService, "stillHolds">,
    private readonly principal: Principal | undefined,
    private readonly admin: boolean,
    private readonly onRevoked: () => void,
    private readonly options: { maxAgeMs: number; everyMs: number } = { maxAgeMs: 1000, everyMs: 5000 },
  ) {
    this.timer = setInterval(() => void this.check(), options.everyMs);
    this.timer.unref();
  }

  /** Whether access still holds, asked again when the last answer is stale. */
  async fresh(): Promise<boolean> {
    if (this.revoked) return false;
    if (Date.now() - this.checkedAt <= this.options.maxAgeMs) return true;
    return this.check();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async check(): Promise<boolean> {
    if (this.revoked) return false;
    this.checkedAt = Date.now();
    const ok = this.principal !== undefined && (await this.auth.stillHolds(this.principal, this.admin).catch(() => false));
    if (!ok && !this.revoked) {
      this.revoked = true;
      this.stop();
      this.onRevoked();
    }
    return ok;
  }
}
