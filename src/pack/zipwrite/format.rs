//! The records of a ZIP file as `pack` writes them (APPNOTE 6.3): local headers, central
//! directory records, the end records (Zip64 ones when the counts or offsets need them),
//! and the DOS timestamp. Nothing here depends on anything but its arguments.

/// Signature of a local file header.
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
/// Signature of a central directory record.
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
/// Signature of the end of central directory record.
const END_SIGNATURE: u32 = 0x0605_4b50;
/// Signature of the Zip64 end of central directory record.
const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
/// Signature of the Zip64 end of central directory locator.
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
/// "Made by" Unix (3), specification 3.0, as Info-ZIP writes it.
const MADE_BY: u16 = (3 << 8) | 30;
/// Version needed to extract: deflate.
const NEEDED: u16 = 20;
/// Version needed to extract: Zip64.
const NEEDED_ZIP64: u16 = 45;
/// Compression method: stored.
pub const STORED: u16 = 0;
/// Compression method: deflate.
pub const DEFLATED: u16 = 8;
/// General purpose flag: the name is UTF-8.
const UTF8_FLAG: u16 = 1 << 11;
/// The largest value a 32-bit field holds; larger ones go to the Zip64 fields.
const MAX32: u64 = 0xffff_ffff;

/// One central directory record, kept until the end of the ZIP.
#[derive(Debug, Clone)]
pub struct Central {
    pub name: Vec<u8>,
    pub method: u16,
    pub crc: u32,
    pub compressed: u64,
    pub size: u64,
    /// Where its local header starts.
    pub offset: u64,
    /// Where its data starts (for sharing it with a later entry).
    pub data: u64,
    /// Unix mode and type in the high 16 bits; MS-DOS attributes in the low.
    pub external: u32,
    /// The file it was written from (for the comparison before sharing its bytes).
    pub source: Option<std::path::PathBuf>,
}

/// A timestamp in the form a ZIP entry carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DosTime {
    /// Year since 1980 (7 bits), month, day.
    pub date: u16,
    /// Hour, minute, second / 2.
    pub time: u16,
}

impl DosTime {
    /// The DOS date and time of `seconds` since the Unix epoch, read as UTC; clamped to
    /// the range a DOS time holds (1980-01-01 to 2107-12-31), odd seconds rounded down.
    pub fn from_unix(seconds: i64) -> DosTime {
        use chrono::{Datelike, Timelike};
        const FIRST: i64 = 315_532_800; // 1980-01-01T00:00:00Z
        const LAST: i64 = 4_354_819_198; // 2107-12-31T23:59:58Z
        let at = chrono::DateTime::from_timestamp(seconds.clamp(FIRST, LAST), 0)
            .unwrap_or_default()
            .naive_utc();
        DosTime {
            date: ((at.year() - 1980) as u16) << 9 | (at.month() as u16) << 5 | at.day() as u16,
            time: (at.hour() as u16) << 11 | (at.minute() as u16) << 5 | (at.second() as u16 / 2),
        }
    }

    /// Seconds since the Unix epoch of a DOS date and time read as UTC (`None` when it is
    /// not a valid date).
    pub fn to_unix(self) -> Option<i64> {
        let date = chrono::NaiveDate::from_ymd_opt(
            1980 + i32::from(self.date >> 9),
            u32::from((self.date >> 5) & 0xf),
            u32::from(self.date & 0x1f),
        )?;
        let at = date.and_hms_opt(
            u32::from(self.time >> 11),
            u32::from((self.time >> 5) & 0x3f),
            u32::from(self.time & 0x1f) * 2,
        )?;
        Some(at.and_utc().timestamp())
    }
}

/// The general purpose flags of an entry named `name`: the UTF-8 flag for a name that is
/// UTF-8 and not plain ASCII, nothing else (no data descriptor: sizes are in the header).
fn flags(name: &[u8]) -> u16 {
    if !name.is_ascii() && std::str::from_utf8(name).is_ok() {
        UTF8_FLAG
    } else {
        0
    }
}

/// A local file header; a file of 4 GiB or more gets its sizes in a Zip64 extra field.
pub(super) fn local_header(
    name: &[u8],
    method: u16,
    crc: u32,
    compressed: u64,
    size: u64,
    time: DosTime,
) -> Vec<u8> {
    let zip64 = size >= MAX32 || compressed >= MAX32;
    let mut header = Vec::with_capacity(30 + name.len() + 20);
    header.extend_from_slice(&LOCAL_SIGNATURE.to_le_bytes());
    header.extend_from_slice(&(if zip64 { NEEDED_ZIP64 } else { NEEDED }).to_le_bytes());
    header.extend_from_slice(&flags(name).to_le_bytes());
    header.extend_from_slice(&method.to_le_bytes());
    header.extend_from_slice(&time.time.to_le_bytes());
    header.extend_from_slice(&time.date.to_le_bytes());
    header.extend_from_slice(&crc.to_le_bytes());
    if zip64 {
        header.extend_from_slice(&u32::MAX.to_le_bytes());
        header.extend_from_slice(&u32::MAX.to_le_bytes());
    } else {
        header.extend_from_slice(&(compressed as u32).to_le_bytes());
        header.extend_from_slice(&(size as u32).to_le_bytes());
    }
    header.extend_from_slice(&(name.len() as u16).to_le_bytes());
    header.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
    header.extend_from_slice(name);
    if zip64 {
        header.extend_from_slice(&1u16.to_le_bytes());
        header.extend_from_slice(&16u16.to_le_bytes());
        header.extend_from_slice(&size.to_le_bytes());
        header.extend_from_slice(&compressed.to_le_bytes());
    }
    header
}

/// A central directory record; Zip64 fields for sizes or an offset past 4 GiB.
pub(super) fn central_record(entry: &Central, time: DosTime) -> Vec<u8> {
    let sizes64 = entry.size >= MAX32 || entry.compressed >= MAX32;
    let offset64 = entry.offset >= MAX32;
    let mut extra = Vec::new();
    if sizes64 {
        extra.extend_from_slice(&entry.size.to_le_bytes());
        extra.extend_from_slice(&entry.compressed.to_le_bytes());
    }
    if offset64 {
        extra.extend_from_slice(&entry.offset.to_le_bytes());
    }
    let mut record = Vec::with_capacity(46 + entry.name.len() + 4 + extra.len());
    record.extend_from_slice(&CENTRAL_SIGNATURE.to_le_bytes());
    record.extend_from_slice(&MADE_BY.to_le_bytes());
    let needed = if sizes64 || offset64 {
        NEEDED_ZIP64
    } else {
        NEEDED
    };
    record.extend_from_slice(&needed.to_le_bytes());
    record.extend_from_slice(&flags(&entry.name).to_le_bytes());
    record.extend_from_slice(&entry.method.to_le_bytes());
    record.extend_from_slice(&time.time.to_le_bytes());
    record.extend_from_slice(&time.date.to_le_bytes());
    record.extend_from_slice(&entry.crc.to_le_bytes());
    let (compressed, size) = if sizes64 {
        (u32::MAX, u32::MAX)
    } else {
        (entry.compressed as u32, entry.size as u32)
    };
    record.extend_from_slice(&compressed.to_le_bytes());
    record.extend_from_slice(&size.to_le_bytes());
    record.extend_from_slice(&(entry.name.len() as u16).to_le_bytes());
    let extra_len = if extra.is_empty() { 0 } else { 4 + extra.len() };
    record.extend_from_slice(&(extra_len as u16).to_le_bytes());
    record.extend_from_slice(&0u16.to_le_bytes()); // comment
    record.extend_from_slice(&0u16.to_le_bytes()); // disk
    record.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    record.extend_from_slice(&entry.external.to_le_bytes());
    let offset = if offset64 {
        u32::MAX
    } else {
        entry.offset as u32
    };
    record.extend_from_slice(&offset.to_le_bytes());
    record.extend_from_slice(&entry.name);
    if !extra.is_empty() {
        record.extend_from_slice(&1u16.to_le_bytes());
        record.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        record.extend_from_slice(&extra);
    }
    record
}

/// The end records after a central directory of `count` records and `size` bytes that
/// starts at `offset`: the Zip64 ones first when a count or an offset does not fit.
pub(super) fn end_records(count: u64, size: u64, offset: u64) -> Vec<u8> {
    let mut record = Vec::with_capacity(98);
    if count >= 0xffff || offset >= MAX32 || size >= MAX32 {
        let zip64_end = offset + size;
        record.extend_from_slice(&ZIP64_END_SIGNATURE.to_le_bytes());
        record.extend_from_slice(&44u64.to_le_bytes());
        record.extend_from_slice(&MADE_BY.to_le_bytes());
        record.extend_from_slice(&NEEDED_ZIP64.to_le_bytes());
        record.extend_from_slice(&0u32.to_le_bytes());
        record.extend_from_slice(&0u32.to_le_bytes());
        record.extend_from_slice(&count.to_le_bytes());
        record.extend_from_slice(&count.to_le_bytes());
        record.extend_from_slice(&size.to_le_bytes());
        record.extend_from_slice(&offset.to_le_bytes());
        record.extend_from_slice(&ZIP64_LOCATOR_SIGNATURE.to_le_bytes());
        record.extend_from_slice(&0u32.to_le_bytes());
        record.extend_from_slice(&zip64_end.to_le_bytes());
        record.extend_from_slice(&1u32.to_le_bytes());
    }
    record.extend_from_slice(&END_SIGNATURE.to_le_bytes());
    record.extend_from_slice(&0u16.to_le_bytes());
    record.extend_from_slice(&0u16.to_le_bytes());
    record.extend_from_slice(&(count.min(0xffff) as u16).to_le_bytes());
    record.extend_from_slice(&(count.min(0xffff) as u16).to_le_bytes());
    record.extend_from_slice(&(size.min(MAX32) as u32).to_le_bytes());
    record.extend_from_slice(&(offset.min(MAX32) as u32).to_le_bytes());
    record.extend_from_slice(&0u16.to_le_bytes());
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_time_round_trips_and_clamps() {
        let t = DosTime::from_unix(1_700_000_001);
        assert_eq!(t.to_unix(), Some(1_700_000_000));
        assert_eq!(DosTime::from_unix(0).to_unix(), Some(315_532_800));
        assert_eq!(DosTime::from_unix(i64::MAX).to_unix(), Some(4_354_819_198));
    }

    #[test]
    fn a_file_of_4_gib_gets_zip64_sizes_and_nothing_else_an_extra_field() {
        let time = DosTime::from_unix(1_700_000_000);
        let small = local_header(b"a", DEFLATED, 1, 2, 3, time);
        assert_eq!(small.len(), 30 + 1);
        let big = local_header(b"a", STORED, 1, 5 << 30, 5 << 30, time);
        assert_eq!(big.len(), 30 + 1 + 20);
        assert_eq!(&big[18..26], &[0xff; 8]);
        let end = end_records(70_000, 10, 20);
        assert_eq!(
            end.len(),
            56 + 20 + 22,
            "Zip64 end records for 70,000 entries"
        );
        assert_eq!(end_records(3, 10, 20).len(), 22);
    }
}
