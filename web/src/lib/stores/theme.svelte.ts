/** Light/dark theme: follows the system (prefers-color-scheme) until the user picks one. */
export type ThemeChoice = "system" | "light" | "dark";
const KEY = "llmux.theme";

class ThemeStore {
  choice = $state<ThemeChoice>("system");

  constructor(private storage: Pick<Storage, "getItem" | "setItem"> | undefined = globalThis.localStorage) {
    const saved = storage?.getItem(KEY);
    if (saved === "light" || saved === "dark" || saved === "system") this.choice = saved;
  }

  /** system → light → dark → system. */
  cycle(): void {
    this.set(this.choice === "system" ? "light" : this.choice === "light" ? "dark" : "system");
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    this.storage?.setItem(KEY, choice);
    this.apply();
  }

  /** Writes the choice on <html data-theme>; CSS does the rest ("system" leaves it to the media query). */
  apply(): void {
    if (typeof document === "undefined") return;
    if (this.choice === "system") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = this.choice;
  }
}

export { ThemeStore };
export const theme = new ThemeStore();
