import "./style.css";
import { registerSW } from "virtual:pwa-register";
import { getSetting } from "./db";
import { recoverInterrupted, registerBackgroundSync, startQueue } from "./queue";
import { mountApp, showUpdatePrompt } from "./ui";

async function main(): Promise<void> {
  // Before the first screen is drawn, so before any new capture can start.
  const recovered = await recoverInterrupted();
  // Draws the first screen, once: no redraw here afterwards (see mountApp).
  await mountApp(document.getElementById("app")!, { recovered });
  // Evidence waiting on the phone must not be evicted when storage runs low.
  void navigator.storage?.persist?.().catch(() => false);
  startQueue({ metered: (await getSetting<boolean>("pause_on_metered")) ?? false });
  void registerBackgroundSync();
  if ("serviceWorker" in navigator) {
    const updateSW = registerSW({
      onNeedRefresh: () => showUpdatePrompt(() => void updateSW(true)),
    });
  }
}

void main();
