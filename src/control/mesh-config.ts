// The control plane's MeshConfig (`trellis up --mesh-config FILE`): read and validated at start (a bad file stops
// `up` with every problem listed), then watched: a new version that validates replaces the old one and the world is
// rebuilt (proxies get the change through the usual push); a bad one is refused, logged, and the last good one kept.
// The file's directory is watched rather than the file, so editors that save by renaming and Kubernetes ConfigMap
// volumes (a `..data` symlink swapped) are seen too; a change event whose file reads the same does nothing.

import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import {
  MeshConfigError,
  defaultMeshConfig,
  readMeshConfig,
  where,
  type MeshAccessLog,
  type MeshConfig,
  type MeshConfigIssue,
} from "../api/resources/mesh-config.ts";
import { parseIstioDuration } from "../api/resources/duration.ts";
import { TrellisError } from "../api/errors.ts";
import { parseAccessLogConfig } from "../telemetry/access-log-config.ts";
import type { Finding } from "./analyze/analyze.ts";
import { accessLogJson } from "./translate/access-log.ts";
import type { MeshWorldInput } from "./translate/index.ts";

export interface LoadedMeshConfig {
  /** The file it came from; undefined for Istio's defaults (no --mesh-config). */
  file: string | undefined;
  config: MeshConfig;
  warnings: MeshConfigIssue[];
  /** Fields stored whose effect comes later ("stored, not enforced yet"). */
  notices: MeshConfigIssue[];
  accessLogs: MeshAccessLog[];
}

export function defaultLoadedMeshConfig(): LoadedMeshConfig {
  return { file: undefined, config: defaultMeshConfig(), warnings: [], notices: [], accessLogs: [] };
}

/**
 * Reads and validates a MeshConfig's text (named `file` in messages): the reader's checks plus the access log
 * formats, compiled as the sidecars will compile them. Throws MeshConfigError listing every problem.
 */
export function parseMeshConfigText(text: string, file: string): LoadedMeshConfig {
  const read = readMeshConfig(text);
  const errors = [...read.errors];
  if (read.config !== undefined) {
    read.accessLogs.forEach((log) => {
      const parsed = parseAccessLogConfig(accessLogJson([log]), "access_log");
      if (parsed.ok) return;
      const path = log.source.endsWith("accessLogFile")
        ? `${log.source.slice(0, -"accessLogFile".length)}accessLogFormat`
        : `${log.source}.envoyFileAccessLog.logFormat`;
      const line = read.lineOf(path);
      for (const issue of parsed.error) {
        errors.push({ path, message: issue.message, ...(line !== undefined ? { line } : {}) });
      }
    });
  }
  if (errors.length > 0 || read.config === undefined) throw new MeshConfigError(file, errors);
  const notices = [...read.notices];
  for (const log of read.accessLogs) {
    const line = read.lineOf(log.source);
    notices.push({
      path: log.source,
      message:
        "stored, not enforced yet for TCP: HTTP requests are logged, TCP connections (tcp_proxy listeners) " +
        "not yet",
      ...(line !== undefined ? { line } : {}),
    });
  }
  return { file, config: read.config, warnings: read.warnings, notices, accessLogs: read.accessLogs };
}

/** A duration the MeshConfig reader already checked ("0s" should it not parse). */
function durationMs(text: string): number {
  const parsed = parseIstioDuration(text);
  return parsed.ok ? parsed.value : 0;
}

/** What translation reads of the MeshConfig. */
export function meshWorldInput(loaded: LoadedMeshConfig): MeshWorldInput {
  const c = loaded.config;
  return {
    rootNamespace: c.rootNamespace,
    outboundTrafficPolicy: c.outboundTrafficPolicy.mode,
    protocolDetectionTimeoutMs: durationMs(c.protocolDetectionTimeout),
    ...(c.localityLbSetting !== undefined ? { localityLbSetting: c.localityLbSetting } : {}),
    accessLogs: loaded.accessLogs,
  };
}

/** The codes analyze uses for the same things in resources: stored but not enforced yet, and a schema warning. */
export const MESH_CONFIG_NOT_ENFORCED = { code: "TRL0001", name: "NotEnforced" } as const;
export const MESH_CONFIG_WARNING = { code: "IST0133", name: "SchemaWarning" } as const;

/** A MeshConfig finding: analyze's shape, plus the file, line and field path. */
export interface MeshConfigFinding extends Finding {
  file: string | undefined;
  path: string;
  line?: number;
}

/**
 * The MeshConfig's warnings and "stored, not enforced yet" notices as findings (for `analyze`, `get meshconfig` and
 * the log of `trellis up`), each naming the file, line and field.
 */
export function meshConfigFindings(loaded: LoadedMeshConfig): MeshConfigFinding[] {
  const resource = `MeshConfig ${loaded.file ?? "(defaults)"}`;
  const finding = (type: { code: string; name: string }, issue: MeshConfigIssue): MeshConfigFinding => ({
    level: "Warning",
    code: type.code,
    name: type.name,
    resource,
    message: `${where(issue)}: ${issue.message}`,
    file: loaded.file,
    path: issue.path,
    ...(issue.line !== undefined ? { line: issue.line } : {}),
  });
  return [
    ...loaded.warnings.map((w) => finding(MESH_CONFIG_WARNING, w)),
    ...loaded.notices.map((n) => finding(MESH_CONFIG_NOT_ENFORCED, n)),
  ];
}

/** The MeshConfig file cannot be read at start (missing, a directory, no permission). */
export class MeshConfigUnreadableError extends TrellisError {
  constructor(file: string, cause: unknown) {
    super("TRELLIS_MESHCONFIG_UNREADABLE", `cannot read the mesh config ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** What one reload did. */
export type ReloadOutcome =
  { status: "applied"; loaded: LoadedMeshConfig } | { status: "unchanged" } | { status: "refused"; error: Error };

export interface MeshConfigWatcherOptions {
  file: string;
  log: (line: string) => void;
  /** A new valid version replaced the current one. */
  onChange: (loaded: LoadedMeshConfig) => void;
}

export class MeshConfigWatcher {
  readonly file: string;
  private loaded: LoadedMeshConfig | undefined;
  private lastText: string | undefined;
  private lastError: Error | undefined;
  private watcher: FSWatcher | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<(outcome: ReloadOutcome) => void>();
  private closed = false;

  constructor(private readonly options: MeshConfigWatcherOptions) {
    this.file = resolve(options.file);
  }

  get current(): LoadedMeshConfig {
    return this.loaded ?? defaultLoadedMeshConfig();
  }

  /** The error of the last version refused since the current one was loaded, if any. */
  get refused(): Error | undefined {
    return this.lastError;
  }

  /** Reads the file (throws MeshConfigError or the read error when it is not usable), then watches it. */
  async start(): Promise<LoadedMeshConfig> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      throw new MeshConfigUnreadableError(this.options.file, err);
    }
    this.lastText = text;
    this.loaded = parseMeshConfigText(text, this.options.file);
    this.logLoaded("loaded", this.loaded);
    this.watcher = watch(dirname(this.file), () => void this.reload());
    this.watcher.on("error", (err) => this.options.log(`mesh config: watching ${this.file} failed: ${err.message}`));
    return this.loaded;
  }

  /**
   * Reads the file again and applies it if it changed and validates. Reloads run one at a time, in order; the file
   * watcher calls this on every change in the directory, tests may call it directly.
   */
  reload(): Promise<ReloadOutcome> {
    const next = this.chain.then(() => this.reloadNow());
    this.chain = next.catch(() => {});
    return next;
  }

  /** Resolves with the outcome of the next reload that is not "unchanged" (for tests and tools). */
  nextChange(): Promise<ReloadOutcome> {
    return new Promise((resolve) => {
      const listener = (outcome: ReloadOutcome): void => {
        if (outcome.status === "unchanged") return;
        this.listeners.delete(listener);
        resolve(outcome);
      };
      this.listeners.add(listener);
    });
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
  }

  private async reloadNow(): Promise<ReloadOutcome> {
    if (this.closed) return { status: "unchanged" };
    let outcome: ReloadOutcome;
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      // Gone for a moment (a rename in progress) or unreadable: keep the last good version; the next event retries.
      const error = err as Error;
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        // Said once per disappearance; the text is forgotten so that the same file written back applies again.
        if (this.lastText !== undefined) {
          this.options.log(`mesh config: ${this.file} is gone; keeping the last good version until it is back`);
        }
        this.lastText = undefined;
        return this.emit({ status: "unchanged" });
      }
      this.lastError = error;
      this.options.log(`mesh config: cannot read ${this.file} (${error.message}); keeping the last good version`);
      return this.emit({ status: "refused", error });
    }
    if (text === this.lastText) return this.emit({ status: "unchanged" });
    this.lastText = text;
    try {
      const loaded = parseMeshConfigText(text, this.options.file);
      this.loaded = loaded;
      this.lastError = undefined;
      this.logLoaded("reloaded", loaded);
      this.options.onChange(loaded);
      outcome = { status: "applied", loaded };
    } catch (err) {
      const error = err as Error;
      this.lastError = error;
      this.options.log(`mesh config: refused the new version, keeping the last good one: ${error.message}`);
      outcome = { status: "refused", error };
    }
    return this.emit(outcome);
  }

  private emit(outcome: ReloadOutcome): ReloadOutcome {
    for (const listener of [...this.listeners]) listener(outcome);
    return outcome;
  }

  private logLoaded(verb: string, loaded: LoadedMeshConfig): void {
    const c = loaded.config;
    this.options.log(
      `mesh config: ${verb} ${this.options.file} (rootNamespace=${c.rootNamespace} ` +
        `outboundTrafficPolicy=${c.outboundTrafficPolicy.mode} accessLogs=${loaded.accessLogs.length})`,
    );
    for (const finding of meshConfigFindings(loaded))
      this.options.log(`mesh config: ${basename(this.file)} ${finding.message}`);
  }
}
