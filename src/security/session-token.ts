import { jwtVerify, SignJWT } from "jose";

const ISSUER = "llmux";
const AUDIENCE = "llmux-session";

/**
 * The session cookie's content: an HS256 JWT naming the user and the server-side session
 * (`sid`). The signature stops forgery; the session row (see SessionsRepository) makes
 * logout real, since a copied token stops working once its row is gone.
 */
export class SessionTokens {
  constructor(private readonly key: Uint8Array) {}

  sign(userId: string, sessionId: string, expiresAt: number): Promise<string> {
    return new SignJWT({ sid: sessionId })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.key);
  }

  /** The token's user and session ids, or undefined when it is forged, malformed or expired. */
  async verify(token: string): Promise<{ userId: string; sessionId: string } | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ["HS256"], issuer: ISSUER, audience: AUDIENCE });
      if (typeof payload.sub !== "string" || typeof payload.sid !== "string") return undefined;
      return { userId: payload.sub, sessionId: payload.sid };
    } catch {
      return undefined;
    }
  }
}
