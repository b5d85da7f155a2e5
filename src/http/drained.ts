import type { ServerResponse } from "node:http";

/**
 * Resolves when `res` can take more bytes (`drain`) or is gone (`close`), whichever comes
 * first, and removes both listeners then. (`Promise.race` over two `events.once` leaves the
 * loser's listeners behind: a long stream to a slow client piled them up on the response.)
 */
export function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
