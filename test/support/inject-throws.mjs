// Preloaded (`node --import`) into a real `trellis proxy` process by test/last-line.test.ts: on SIGUSR2 it throws
// from a callback no handler wraps and rejects a promise nobody awaits, as a bug on the data path would. Test only.
process.on("SIGUSR2", () => {
  setImmediate(() => {
    throw new Error("injected: a throw from a callback");
  });
  void Promise.reject(new Error("injected: a rejection nobody handles"));
});
