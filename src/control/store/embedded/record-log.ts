// The framing of the embedded store's append-only log: each record is [u32 length][u32 crc32][payload], big
// endian. A crash can leave only the last record torn (appends); anything else that fails its checksum is
// corruption, and reading refuses it instead of silently dropping the records after it.

import zlib from "node:zlib";
import { StoreCorruptError } from "../errors.ts";

const HEADER = 8;
/** A single record larger than this is not something the store ever wrote. */
const MAX_RECORD = 256 * 1024 * 1024;

export function encodeRecord(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(zlib.crc32(payload), 4);
  payload.copy(out, HEADER);
  return out;
}

export interface DecodedLog {
  records: Buffer[];
  /** Bytes up to the end of the last whole record: the log is truncated here before new appends. */
  validLength: number;
  /** true if bytes after validLength were a torn last write (and are dropped). */
  tornTail: boolean;
}

export function decodeRecords(data: Buffer, fileName: string): DecodedLog {
  const records: Buffer[] = [];
  let offset = 0;
  const tornAt = (at: number): DecodedLog => ({ records, validLength: at, tornTail: true });
  const zerosFrom = (at: number): boolean => data.subarray(at).every((b) => b === 0);
  while (offset < data.length) {
    // A crashed append leaves a short header, a record that runs past the end of the file, a last record whose
    // bytes did not all reach the disk (bad checksum), or zeros where the file grew first. Anything else that
    // does not read is damage, and is refused rather than silently dropping the records after it.
    if (data.length - offset < HEADER) return tornAt(offset);
    const length = data.readUInt32BE(offset);
    const crc = data.readUInt32BE(offset + 4);
    const end = offset + HEADER + length;
    if (length > MAX_RECORD) {
      if (zerosFrom(offset)) return tornAt(offset);
      throw new StoreCorruptError(`${fileName}: impossible record length ${length} at byte ${offset}`);
    }
    if (end > data.length) return tornAt(offset);
    const payload = data.subarray(offset + HEADER, end);
    if (zlib.crc32(payload) !== crc) {
      if (end === data.length || zerosFrom(end)) return tornAt(offset);
      throw new StoreCorruptError(`${fileName}: record at byte ${offset} fails its checksum and is not the last one`);
    }
    records.push(Buffer.from(payload));
    offset = end;
  }
  return { records, validLength: offset, tornTail: false };
}
