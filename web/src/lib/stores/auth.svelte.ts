/** Who is signed in, from GET /api/auth/me. */
import type { User } from "$api";
import { ApiError, api } from "../api";

/** `unknown` until /api/auth/me has answered (or while it fails for another reason than 401). */
export type AuthState = "unknown" | "signed_out" | "signed_in";

class AuthStore {
  state = $state<AuthState>("unknown");
  user = $state<User | null>(null);
  /** Why the last check failed when it was not a 401 (the server unreachable, say): the layout offers a retry. */
  error = $state<unknown>(null);

  get isAdmin(): boolean {
    return this.user?.role === "admin" && this.user.status === "approved";
  }

  /**
   * Asks the server who this session is. A 401 means signed out; any other failure leaves the
   * state as it was (no sign-in page for a server that is merely down), records it and rethrows.
   */
  async refresh(fetchMe: () => Promise<{ user: User }> = () => api<{ user: User }>("/api/auth/me", { quiet401: true })): Promise<void> {
    try {
      const { user } = await fetchMe();
      this.error = null;
      this.signedIn(user);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        this.error = null;
        this.signedOut();
        return;
      }
      this.error = e;
      throw e;
    }
  }

  signedIn(user: User): void {
    this.user = user;
    this.state = "signed_in";
  }

  signedOut(): void {
    this.user = null;
    this.state = "signed_out";
  }
}

export { AuthStore };
export const auth = new AuthStore();
