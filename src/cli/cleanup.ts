// `trellis cleanup`: removes what `trellis run --transparent` runs that died (SIGKILL, a crash of the machine's
// power aside) left behind — their network namespaces, veth pairs, resolv.conf, relay sockets and state files, the
// host's bridge and `trellis` rules once no run is left — and deregisters their instances and releases their
// addresses. A live run's set is left alone. The same happens at the start of every `trellis run --transparent`.

export async function runCleanup(): Promise<number> {
  const log = (line: string): void => void process.stderr.write(`trellis cleanup: ${line}\n`);
  const { transparentPrerequisites, TransparentUnavailableError, runDir } = await import("../run/netns.ts");
  const missing = transparentPrerequisites();
  if (missing.length > 0) {
    log(new TransparentUnavailableError(missing).message.replace("--transparent needs", "cleanup needs"));
    return 2;
  }
  const { cleanUpStale } = await import("../run/transparent.ts");
  const removed = await cleanUpStale(runDir(), log);
  process.stdout.write(removed.length === 0 ? "nothing to clean up\n" : `removed ${removed.join(", ")}\n`);
  return 0;
}
