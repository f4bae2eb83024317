/**
 * A MediaRecorder for Node (which has none), driven by the test: `emit` hands the app a slice
 * as the browser's `dataavailable` does; `stop` ends the recording a task later, first
 * flushing `tail` as a real recorder flushes its last data. Install it with
 * `vi.stubGlobal("MediaRecorder", FakeRecorder)`; each one made is in `recorders`, latest last.
 * Chromium's real recorder, with a fake camera, is exercised by the browser tests.
 */
export const recorders: FakeRecorder[] = [];

export class FakeRecorder {
  static isTypeSupported(): boolean {
    return true;
  }
  state: "inactive" | "recording" = "inactive";
  mimeType = "video/webm";
  /** emitted when stopped, as a real recorder flushes its last data */
  tail: string | null = null;
  ondataavailable: ((e: { data: Blob }) => void) | null = null;
  onstop: (() => void) | null = null;

  constructor() {
    recorders.push(this);
  }
  start(): void {
    this.state = "recording";
  }
  stop(): void {
    this.state = "inactive";
    setImmediate(() => {
      if (this.tail) this.emit(this.tail);
      this.onstop?.();
    });
  }
  emit(text: string): void {
    this.ondataavailable?.({ data: new Blob([text]) });
  }
}
