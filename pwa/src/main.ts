import "./style.css";
import { registerSW } from "virtual:pwa-register";
import { getSetting } from "./db";
import { t } from "./i18n";
import { recoverInterrupted, registerBackgroundSync, startQueue } from "./queue";
import { mountApp, notice, render, showUpdatePrompt } from "./ui";

async function main(): Promise<void> {
  await mountApp(document.getElementById("app")!);
  const recovered = await recoverInterrupted(); // before any new capture can start
  render();
  if (recovered) notice(t("recovered_notice", { n: recovered }));
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
