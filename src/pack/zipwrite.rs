//! The reproducible ZIP writer of `pack`: every byte of the output is a function of the
//! entries' names, contents and executable bits and of one timestamp.
//!
//! - Entries in byte-wise name order, directories as entries (`name/`, stored, 0755).
//! - One DOS timestamp for every entry; no extra field at all (no extended timestamp, no
//!   Unix UID/GID), except the Zip64 one a file of 4 GiB or more, or an offset past 4 GiB,
//!   needs (its content is sizes and offsets, nothing that varies).
//! - Files 0644, or 0755 when any execute bit is set; "made by" Unix.
//! - Raw deflate at level [`LEVEL`], in independent chunks of [`CHUNK`] bytes joined by
//!   sync flushes (as pigz does), so the chunks of one file or of many small files are
//!   compressed on every core at once and still give one valid deflate stream whose bytes do
//!   not depend on thread timing. A file that does not get smaller is stored instead.
//! - A file whose content an earlier entry already holds (the backup `patch0000` holds what
//!   plugins held) is not compressed again: after a byte-for-byte comparison of the two
//!   files, the earlier entry's compressed bytes are copied from the output itself. The
//!   result is the bytes compressing it again would give.
//!
//! Memory stays flat: one input buffer of [`BATCH`] bytes and one output buffer per chunk,
//! reused from batch to batch, one deflate state per thread, and one central directory
//! record per entry.

mod format;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use flate2::{Compress, Compression, FlushCompress, Status};
use rayon::prelude::*;

use crate::digest::Md5Digest;
use crate::error::{Error, Result};

pub use format::DosTime;
use format::{Central, DEFLATED, STORED, central_record, end_records, local_header};

/// The deflate level of every compressed entry (Info-ZIP's default).
pub const LEVEL: u32 = 6;
/// Input bytes deflated independently of the bytes before them.
pub const CHUNK: usize = 1 << 20;
/// Input bytes read and compressed at once (a multiple of [`CHUNK`]): enough chunks to
/// keep every core busy, few enough that memory stays small.
const BATCH: usize = 16 * CHUNK;
/// Bytes buffered before they are written out.
const OUT_BUFFER: usize = 1 << 20;
/// Output buffers kept from one batch to the next (a batch of many small files uses more,
/// which go when it is written): at most about this many MiB stay allocated.
const KEPT_OUTPUTS: usize = BATCH / CHUNK;

/// One entry to write.
#[derive(Debug, Clone)]
pub struct Item {
    /// Its name in the ZIP (`/`-separated; a directory's ends with `/`).
    pub name: Vec<u8>,
    /// The file it holds; `None` for a directory.
    pub file: Option<Source>,
}

/// A file to put into the ZIP.
#[derive(Debug, Clone)]
pub struct Source {
    /// Where it is on disk.
    pub path: PathBuf,
    /// Its length.
    pub size: u64,
    /// Its MD5: equal digests and sizes make two files candidates for sharing compressed
    /// bytes (they are then compared byte for byte).
    pub md5: Md5Digest,
    /// Whether any execute bit is set (0755, else 0644).
    pub executable: bool,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Entries, directories included.
    pub entries: usize,
    /// Length of the ZIP.
    pub bytes: u64,
}

/// Writes `items` as a ZIP into `out` (an empty file opened for reading and writing;
/// `out_path` names it in errors), every entry dated `time`. The items are sorted here.
pub fn write(out: &File, out_path: &Path, mut items: Vec<Item>, time: DosTime) -> Result<Summary> {
    items.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(twice) = items.windows(2).find(|w| w[0].name == w[1].name) {
        // The caller lists a tree, in which no name repeats.
        return Err(Error::write(
            "write",
            out_path,
            io::Error::other(format!(
                "entry `{}` listed twice",
                String::from_utf8_lossy(&twice[0].name)
            )),
        ));
    }
    let mut writer = Writer {
        out,
        out_path,
        buffer: Vec::with_capacity(OUT_BUFFER),
        start: 0,
        time,
        central: Vec::with_capacity(items.len()),
        seen: HashMap::new(),
        input: Vec::with_capacity(BATCH),
        outputs: Vec::new(),
    };
    let mut at = 0;
    while at < items.len() {
        match &items[at].file {
            None => {
                writer.directory(&items[at].name)?;
                at += 1;
            }
            Some(file) if file.size > BATCH as u64 => {
                let (name, file) = (&items[at].name, file.clone());
                if !writer.shared(name, &file)? {
                    writer.streamed(name, &file)?;
                }
                at += 1;
            }
            Some(_) => {
                // A batch: consecutive small files (and the directories between them).
                let mut end = at;
                let mut bytes = 0u64;
                while end < items.len() {
                    match &items[end].file {
                        Some(f) if f.size > BATCH as u64 => break,
                        Some(f) if bytes + f.size > BATCH as u64 && end > at => break,
                        Some(f) => bytes += f.size,
                        None => {}
                    }
                    end += 1;
                }
                writer.batch(&items[at..end])?;
                at = end;
            }
        }
    }
    writer.finish()
}

struct Writer<'a> {
    out: &'a File,
    out_path: &'a Path,
    /// Bytes not yet written, which belong at `start`.
    buffer: Vec<u8>,
    start: u64,
    time: DosTime,
    central: Vec<Central>,
    /// (size, MD5) of each file compressed here -> its central record.
    seen: HashMap<(u64, Md5Digest), usize>,
    /// The input of one batch (or one part of a streamed file), reused.
    input: Vec<u8>,
    /// One output per chunk of `input`, reused.
    outputs: Vec<Vec<u8>>,
}

/// A piece of the batch input deflated on its own: `input[start..end]`, and whether it
/// ends its file (the final block) or goes on (a sync flush).
struct Unit {
    start: usize,
    end: usize,
    last: bool,
}

impl Writer<'_> {
    fn position(&self) -> u64 {
        self.start + self.buffer.len() as u64
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.len() >= OUT_BUFFER {
            // Written as it is, not copied into the buffer first.
            self.flush()?;
            self.out
                .write_all_at(bytes, self.start)
                .map_err(|e| Error::write("write", self.out_path, e))?;
            self.start += bytes.len() as u64;
            return Ok(());
        }
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= OUT_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.out
            .write_all_at(&self.buffer, self.start)
            .map_err(|e| Error::write("write", self.out_path, e))?;
        self.start += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Goes back to `offset` (everything before it written): what follows replaces what
    /// was there.
    fn rewind(&mut self, offset: u64) -> Result<()> {
        self.flush()?;
        self.start = offset;
        Ok(())
    }

    /// Writes the `count` outputs from the first, returning their length.
    fn put_outputs(&mut self, count: usize) -> Result<u64> {
        let outputs = std::mem::take(&mut self.outputs);
        let mut written = 0u64;
        let result = outputs[..count].iter().try_for_each(|part| {
            written += part.len() as u64;
            self.put(part)
        });
        self.outputs = outputs;
        self.outputs.truncate(KEPT_OUTPUTS);
        result.map(|()| written)
    }

    fn directory(&mut self, name: &[u8]) -> Result<()> {
        let offset = self.position();
        self.put(&local_header(name, STORED, 0, 0, 0, self.time))?;
        let data = self.position();
        self.central.push(Central {
            name: name.to_vec(),
            method: STORED,
            crc: 0,
            compressed: 0,
            size: 0,
            offset,
            data,
            external: ((0o040000 | 0o755) << 16) | 0x10,
            source: None,
        });
        Ok(())
    }

    fn external(file: &Source) -> u32 {
        let mode = if file.executable { 0o755 } else { 0o644 };
        (0o100000 | mode) << 16
    }

    /// Keeps the central record of a file whose bytes were compressed here, for sharing.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        name: &[u8],
        file: &Source,
        method: u16,
        crc: u32,
        compressed: u64,
        offset: u64,
        data: u64,
    ) {
        self.seen.insert((file.size, file.md5), self.central.len());
        self.central.push(Central {
            name: name.to_vec(),
            method,
            crc,
            compressed,
            size: file.size,
            offset,
            data,
            external: Self::external(file),
            source: Some(file.path.clone()),
        });
    }

    /// Writes `file` with the compressed bytes of an earlier entry holding the same
    /// content, when there is one. Returns whether it did.
    fn shared(&mut self, name: &[u8], file: &Source) -> Result<bool> {
        let Some(&earlier) = self.seen.get(&(file.size, file.md5)) else {
            return Ok(false);
        };
        let Some(first) = self.central[earlier].source.clone() else {
            return Ok(false);
        };
        if !same_content(&first, &file.path)? {
            tracing::warn!(
                "`{}` and `{}` share size and MD5 but not content",
                first.display(),
                file.path.display()
            );
            return Ok(false);
        }
        let (method, crc, compressed, data) = {
            let c = &self.central[earlier];
            (c.method, c.crc, c.compressed, c.data)
        };
        let offset = self.position();
        self.put(&local_header(
            name, method, crc, compressed, file.size, self.time,
        ))?;
        let start = self.position();
        self.flush()?;
        let mut copied = 0u64;
        let mut chunk = std::mem::take(&mut self.input);
        chunk.resize(OUT_BUFFER, 0);
        let result = (|| {
            while copied < compressed {
                let n = (compressed - copied).min(chunk.len() as u64) as usize;
                self.out
                    .read_exact_at(&mut chunk[..n], data + copied)
                    .map_err(|e| Error::read("read back", self.out_path, e))?;
                self.put(&chunk[..n])?;
                copied += n as u64;
            }
            Ok(())
        })();
        self.input = chunk;
        result?;
        self.central.push(Central {
            name: name.to_vec(),
            method,
            crc,
            compressed,
            size: file.size,
            offset,
            data: start,
            external: Self::external(file),
            source: None,
        });
        Ok(true)
    }

    /// A file over [`BATCH`] (or one that must be compressed on its own): streamed, its
    /// chunks compressed [`BATCH`] bytes at a time; the header is completed once the whole
    /// file was read. A file that does not get smaller is written again, stored.
    fn streamed(&mut self, name: &[u8], file: &Source) -> Result<()> {
        let offset = self.position();
        // Method and sizes are filled in below; the header's length does not change.
        self.put(&local_header(
            name, DEFLATED, 0, file.size, file.size, self.time,
        ))?;
        let data = self.position();
        let mut source = open(&file.path)?;
        let mut crc = crc32fast::Hasher::new();
        let mut read = 0u64;
        let mut compressed = 0u64;
        while read < file.size {
            let mut input = std::mem::take(&mut self.input);
            input.resize(BATCH, 0);
            let n = fill(&mut source, &mut input, &file.path);
            let n = match n {
                Ok(0) | Err(_) => {
                    self.input = input;
                    return Err(n.err().unwrap_or_else(|| changed(&file.path)));
                }
                Ok(n) => n,
            };
            input.truncate(n);
            crc.update(&input);
            let last = read + n as u64 >= file.size;
            let units: Vec<Unit> = (0..n)
                .step_by(CHUNK)
                .map(|start| {
                    let end = (start + CHUNK).min(n);
                    Unit {
                        start,
                        end,
                        last: last && end == n,
                    }
                })
                .collect();
            deflate_units(&input, &units, &mut self.outputs);
            self.input = input;
            compressed += self.put_outputs(units.len())?;
            read += n as u64;
        }
        if read != file.size || !at_end(&mut source, &file.path)? {
            return Err(changed(&file.path));
        }
        let crc = crc.finalize();
        let method = if compressed >= file.size {
            // Not smaller: the stored bytes instead.
            self.rewind(data)?;
            let mut source = open(&file.path)?;
            let mut input = std::mem::take(&mut self.input);
            input.resize(BATCH, 0);
            let mut copied = 0u64;
            let result = (|| {
                while copied < file.size {
                    let n = fill(&mut source, &mut input, &file.path)?;
                    if n == 0 {
                        return Err(changed(&file.path));
                    }
                    self.put(&input[..n])?;
                    copied += n as u64;
                }
                Ok(())
            })();
            self.input = input;
            result?;
            compressed = file.size;
            STORED
        } else {
            DEFLATED
        };
        let end = self.position();
        self.flush()?;
        let header = local_header(name, method, crc, compressed, file.size, self.time);
        self.out
            .write_all_at(&header, offset)
            .map_err(|e| Error::write("write", self.out_path, e))?;
        self.start = end;
        self.record(name, file, method, crc, compressed, offset, data);
        Ok(())
    }

    /// Small files and the directories between them: every file read into the batch
    /// input, all their chunks deflated at once, then written in order.
    fn batch(&mut self, items: &[Item]) -> Result<()> {
        // Files whose content an earlier entry (or an earlier file of this batch) holds
        // are not compressed: they share its bytes when their turn comes.
        let mut keys = HashSet::new();
        let mut input = std::mem::take(&mut self.input);
        input.clear();
        let mut spans = Vec::with_capacity(items.len());
        let mut units = Vec::new();
        let read = items.iter().try_for_each(|item| {
            let span = match &item.file {
                Some(f) if f.size > 0 && !self.seen.contains_key(&(f.size, f.md5)) => {
                    if keys.insert((f.size, f.md5)) {
                        let start = input.len();
                        read_into(&f.path, f.size, &mut input)?;
                        let end = input.len();
                        let first = units.len();
                        let mut at = start;
                        while at < end {
                            let stop = (at + CHUNK).min(end);
                            units.push(Unit {
                                start: at,
                                end: stop,
                                last: stop == end,
                            });
                            at = stop;
                        }
                        Some((start, end, first, units.len()))
                    } else {
                        None
                    }
                }
                _ => None,
            };
            spans.push(span);
            Ok::<(), Error>(())
        });
        if let Err(e) = read {
            self.input = input;
            return Err(e);
        }
        deflate_units(&input, &units, &mut self.outputs);
        let written = (|| {
            for (item, span) in items.iter().zip(&spans) {
                let Some(file) = &item.file else {
                    self.directory(&item.name)?;
                    continue;
                };
                let Some((start, end, first, last)) = *span else {
                    if file.size == 0 {
                        let offset = self.position();
                        self.put(&local_header(&item.name, STORED, 0, 0, 0, self.time))?;
                        let data = self.position();
                        self.record(&item.name, file, STORED, 0, 0, offset, data);
                    } else if !self.shared(&item.name, file)? {
                        // Same size and MD5 as another file, but other bytes.
                        self.streamed(&item.name, file)?;
                    }
                    continue;
                };
                let content = &input[start..end];
                let crc = crc32fast::hash(content);
                let deflated: u64 = self.outputs[first..last]
                    .iter()
                    .map(|o| o.len() as u64)
                    .sum();
                let (method, compressed) = if deflated < file.size {
                    (DEFLATED, deflated)
                } else {
                    (STORED, file.size)
                };
                let offset = self.position();
                self.put(&local_header(
                    &item.name, method, crc, compressed, file.size, self.time,
                ))?;
                let data = self.position();
                if method == DEFLATED {
                    let outputs = std::mem::take(&mut self.outputs);
                    let result = outputs[first..last].iter().try_for_each(|o| self.put(o));
                    self.outputs = outputs;
                    result?;
                } else {
                    self.put(content)?;
                }
                self.record(&item.name, file, method, crc, compressed, offset, data);
            }
            Ok(())
        })();
        self.input = input;
        self.outputs.truncate(KEPT_OUTPUTS);
        written
    }

    /// The central directory and its end records.
    fn finish(mut self) -> Result<Summary> {
        let directory = self.position();
        let central = std::mem::take(&mut self.central);
        for entry in &central {
            self.put(&central_record(entry, self.time))?;
        }
        let size = self.position() - directory;
        self.put(&end_records(central.len() as u64, size, directory))?;
        self.flush()?;
        let bytes = self.start;
        // A stored rewrite of the last file may have left longer deflated bytes behind.
        self.out
            .set_len(bytes)
            .map_err(|e| Error::write("truncate", self.out_path, e))?;
        Ok(Summary {
            entries: central.len(),
            bytes,
        })
    }
}

thread_local! {
    /// One deflate state per thread, reset for every chunk: no state allocated per chunk.
    static DEFLATER: RefCell<Compress> = RefCell::new(Compress::new(Compression::new(LEVEL), false));
}

/// Deflates every unit of `input` into the output of the same index, on every core.
fn deflate_units(input: &[u8], units: &[Unit], outputs: &mut Vec<Vec<u8>>) {
    if outputs.len() < units.len() {
        outputs.resize_with(units.len(), Vec::new);
    }
    outputs[..units.len()]
        .par_iter_mut()
        .zip(units)
        .for_each(|(out, unit)| {
            DEFLATER.with(|d| {
                deflate_into(
                    &mut d.borrow_mut(),
                    &input[unit.start..unit.end],
                    unit.last,
                    out,
                )
            })
        });
}

/// Raw deflate of one chunk into `out` (cleared first): ended by a sync flush (the stream
/// goes on in the next chunk, byte-aligned), or, for a file's last chunk, by the final
/// block. `compress` is reset first, so the bytes depend on `input` and `last` alone.
fn deflate_into(compress: &mut Compress, input: &[u8], last: bool, out: &mut Vec<u8>) {
    compress.reset();
    out.clear();
    out.reserve(input.len() + input.len() / 64 + 64);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let consumed = compress.total_in() as usize;
        // Compressing into memory has no failure mode but a bug: flate2 reports only
        // misuse of the stream here.
        let status = compress
            .compress_vec(&input[consumed..], out, flush)
            .expect("deflate into a vector");
        let all_in = compress.total_in() as usize == input.len();
        let done = match (last, status) {
            (true, Status::StreamEnd) => true,
            (true, _) => false,
            // A sync flush is complete when it left room in the output.
            (false, _) => all_in && out.len() < out.capacity(),
        };
        if done {
            return;
        }
        out.reserve(out.capacity().max(64 * 1024));
    }
}

/// [`deflate_into`] a new vector, with a new state.
pub fn deflate(input: &[u8], last: bool) -> Vec<u8> {
    let mut out = Vec::new();
    deflate_into(
        &mut Compress::new(Compression::new(LEVEL), false),
        input,
        last,
        &mut out,
    );
    out
}

/// Appends the file at `path`, which must hold `size` bytes, to `input` (which grows by
/// exactly that much).
fn read_into(path: &Path, size: u64, input: &mut Vec<u8>) -> Result<()> {
    let mut source = open(path)?;
    let before = input.len();
    input.resize(before + size as usize, 0);
    let n = fill(&mut source, &mut input[before..], path)?;
    if n as u64 != size || !at_end(&mut source, path)? {
        input.truncate(before);
        return Err(changed(path));
    }
    Ok(())
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::read("open", path, e))
}

/// Fills `buffer` as far as the file goes; returns how much it read.
fn fill(input: &mut File, buffer: &mut [u8], path: &Path) -> Result<usize> {
    let mut n = 0;
    while n < buffer.len() {
        match input.read(&mut buffer[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::read("read", path, e)),
        }
    }
    Ok(n)
}

/// Whether nothing is left to read.
fn at_end(input: &mut File, path: &Path) -> Result<bool> {
    Ok(fill(input, &mut [0u8; 1], path)? == 0)
}

fn changed(path: &Path) -> Error {
    Error::read(
        "read",
        path,
        io::Error::other("the file changed while the pack was written"),
    )
}

/// Whether two files hold the same bytes.
fn same_content(a: &Path, b: &Path) -> Result<bool> {
    let (mut x, mut y) = (open(a)?, open(b)?);
    let mut bx = vec![0u8; 256 * 1024];
    let mut by = vec![0u8; 256 * 1024];
    loop {
        let n = fill(&mut x, &mut bx, a)?;
        let m = fill(&mut y, &mut by, b)?;
        if n != m || bx[..n] != by[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, name: &str, bytes: &[u8], executable: bool) -> Item {
        let path = dir.join(name.replace('/', "_"));
        std::fs::write(&path, bytes).unwrap();
        Item {
            name: name.as_bytes().to_vec(),
            file: Some(Source {
                path,
                size: bytes.len() as u64,
                md5: Md5Digest::of_bytes(bytes),
                executable,
            }),
        }
    }

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn written(items: Vec<Item>, time: DosTime) -> (Vec<u8>, Summary) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.zip");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let summary = write(&file, &path, items, time).unwrap();
        (std::fs::read(&path).unwrap(), summary)
    }

    #[test]
    fn chunked_deflate_is_one_valid_stream() {
        let data = pseudo_random(3 * CHUNK + 1234, 7)
            .into_iter()
            .map(|b| b % 4 + b'a')
            .collect::<Vec<u8>>();
        let chunks: Vec<&[u8]> = data.chunks(CHUNK).collect();
        let mut stream = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            stream.extend(deflate(chunk, i + 1 == chunks.len()));
        }
        let mut back = Vec::new();
        flate2::read::DeflateDecoder::new(&stream[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert!(stream.len() < data.len());
    }

    #[test]
    fn the_zip_reads_back_with_names_modes_times_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"<Server>\n".repeat(10_000);
        let random = pseudo_random(70_000, 3);
        let items = vec![
            source(dir.path(), "top/bin/run.sh", b"#!/bin/sh\n", true),
            Item {
                name: b"top/".to_vec(),
                file: None,
            },
            Item {
                name: b"top/bin/".to_vec(),
                file: None,
            },
            source(dir.path(), "top/a.xml", &text, false),
            source(dir.path(), "top/random.jar", &random, false),
            source(dir.path(), "top/copy-of-random.jar", &random, false),
            source(dir.path(), "top/empty", b"", false),
            source(dir.path(), "top/\u{e9}t\u{e9}.txt", b"x", false),
        ];
        let time = DosTime::from_unix(1_700_000_000);
        let (bytes, summary) = written(items, time);
        assert_eq!(summary.entries, 8);
        assert_eq!(summary.bytes, bytes.len() as u64);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        let names: Vec<String> = (0..zip.len())
            .map(|i| zip.by_index_raw(i).unwrap().name().unwrap().to_string())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "byte-wise order");
        let expect: &[(&str, &[u8], u32)] = &[
            ("top/a.xml", &text, 0o100644),
            ("top/random.jar", &random, 0o100644),
            ("top/copy-of-random.jar", &random, 0o100644),
            ("top/bin/run.sh", b"#!/bin/sh\n", 0o100755),
            ("top/empty", b"", 0o100644),
            ("top/\u{e9}t\u{e9}.txt", b"x", 0o100644),
        ];
        for (name, content, mode) in expect {
            let mut entry = zip.by_name(name).unwrap();
            assert_eq!(entry.unix_mode(), Some(*mode), "{name}");
            let modified = entry.last_modified().unwrap();
            assert_eq!(
                DosTime {
                    date: modified.datepart(),
                    time: modified.timepart()
                },
                time
            );
            assert!(entry.extra_data().is_none_or(|e| e.is_empty()), "{name}");
            let mut back = Vec::new();
            entry.read_to_end(&mut back).unwrap();
            assert_eq!(&back, content, "{name}");
        }
        assert_eq!(zip.by_name("top/bin/").unwrap().unix_mode(), Some(0o040755));
        // Incompressible bytes are stored, text deflated.
        assert_eq!(
            zip.by_name("top/random.jar").unwrap().compression(),
            zip::CompressionMethod::Stored
        );
        assert_eq!(
            zip.by_name("top/a.xml").unwrap().compression(),
            zip::CompressionMethod::Deflated
        );
    }

    #[test]
    fn the_same_entries_give_the_same_bytes_and_another_time_other_bytes() {
        let make = |dir: &Path| {
            vec![
                source(dir, "t/x.xml", &b"abc ".repeat(5000), false),
                source(dir, "t/y.bin", &pseudo_random(3000, 9), true),
            ]
        };
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let time = DosTime::from_unix(1_600_000_000);
        let first = written(make(a.path()), time).0;
        let second = written(make(b.path()), time).0;
        let other = written(make(c.path()), DosTime::from_unix(1_600_086_400)).0;
        assert_eq!(first, second);
        assert_ne!(first, other);
    }

    #[test]
    fn more_than_65535_entries_get_the_zip64_end_records() {
        let items: Vec<Item> = (0..70_000)
            .map(|i| Item {
                name: format!("t/{i:05}/").into_bytes(),
                file: None,
            })
            .collect();
        let (bytes, summary) = written(items, DosTime::from_unix(1_600_000_000));
        assert_eq!(summary.entries, 70_000);
        let zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        assert_eq!(zip.len(), 70_000);
    }

    #[test]
    fn a_file_larger_than_a_batch_is_streamed() {
        let dir = tempfile::tempdir().unwrap();
        let compressible: Vec<u8> = pseudo_random(BATCH + CHUNK / 2, 5)
            .into_iter()
            .map(|b| b % 3 + b'0')
            .collect();
        let incompressible = pseudo_random(BATCH + 10, 11);
        let items = vec![
            source(dir.path(), "big/a", &compressible, false),
            source(dir.path(), "big/b", &incompressible, false),
            source(dir.path(), "big/c", &incompressible, false),
        ];
        let (bytes, _) = written(items, DosTime::from_unix(1_600_000_000));
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        for (name, content) in [
            ("big/a", &compressible),
            ("big/b", &incompressible),
            ("big/c", &incompressible),
        ] {
            let mut back = Vec::new();
            zip.by_name(name).unwrap().read_to_end(&mut back).unwrap();
            assert!(&back == content, "{name}");
        }
        assert!(bytes.len() < compressible.len() + 2 * incompressible.len());
    }
}
