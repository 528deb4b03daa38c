//! Is a credential holder's memory what its exec made, and nothing else?
//!
//! Between an exec and the seal another process of the user may open the
//! new program's `/proc/PID/mem` for writing and keep it: the kernel
//! checks only at open. What it wrote then is in every copy of that
//! memory, the holder's forked child included (`relay`). So before the
//! child is given anything, each page of it that is no longer the
//! kernel's own must be what the exec put there:
//! - a page of a mapped file that was copied on write: the file's bytes
//!   at that offset (zeros past a segment's end on its last page, which
//!   the loader clears for the segment's bss);
//! - a page of the vDSO that was copied: this process's own vDSO, which
//!   the same kernel gave it;
//! - a page of anonymous memory (bss, heap) that is there at all: zeros.
//!
//! The stack is not checked: it is built again (`tracee::push_env`) from
//! what the kernel recorded, nothing on the old one is used, and what is
//! below the new one is cleared (`clear_below`).
//! `/proc/PID/pagemap` tells which pages are copies: its "file page"
//! bit is clear for a private page once written.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};

use nix::unistd::Pid;

const PAGE: u64 = 4096;
const PRESENT: u64 = 1 << 63;
const SWAPPED: u64 = 1 << 62;
const FILE_PAGE: u64 = 1 << 61;

/// One line of `/proc/PID/maps`.
struct Area<'a> {
    start: u64,
    end: u64,
    offset: u64,
    dev: (u64, u64),
    inode: u64,
    shared: bool,
    writable: bool,
    name: &'a str,
}

fn area(line: &str) -> Option<Area<'_>> {
    let mut f = line.splitn(6, ' ');
    let (start, end) = f.next()?.split_once('-')?;
    let perms = f.next()?;
    let offset = u64::from_str_radix(f.next()?, 16).ok()?;
    let (major, minor) = f.next()?.split_once(':')?;
    let inode = f.next()?.parse().ok()?;
    Some(Area {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        offset,
        dev: (
            u64::from_str_radix(major, 16).ok()?,
            u64::from_str_radix(minor, 16).ok()?,
        ),
        inode,
        shared: perms.as_bytes().get(3) == Some(&b's'),
        writable: perms.as_bytes().get(1) == Some(&b'w'),
        name: f.next().unwrap_or("").trim_start(),
    })
}

/// Check `pid` (stopped, undumpable, just forked from a sealed holder).
pub fn check(pid: Pid) -> Result<(), String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|e| format!("maps of {pid}: {e}"))?;
    let pagemap =
        File::open(format!("/proc/{pid}/pagemap")).map_err(|e| format!("pagemap of {pid}: {e}"))?;
    for line in maps.lines() {
        let a = area(line).ok_or_else(|| format!("unreadable map line {line:?}"))?;
        if a.name == "[stack]" || a.name.starts_with("[vvar") || a.name == "[vsyscall]" {
            continue;
        }
        // No exec makes one; its pages are another's to write.
        if a.shared {
            return Err(format!("it has a shared mapping ({line})"));
        }
        let pages = a.end.saturating_sub(a.start) / PAGE;
        let mut file: Option<(File, Vec<u64>)> = None;
        let mut flags = vec![0u8; 8 * 4096];
        for i in 0..pages {
            // The page map a chunk at a time: a large bss is many pages.
            let in_chunk = (i % 4096) as usize;
            if in_chunk == 0 {
                let n = (pages - i).min(4096) as usize;
                flags.resize(n * 8, 0);
                pagemap
                    .read_exact_at(&mut flags, (a.start / PAGE + i) * 8)
                    .map_err(|e| format!("pagemap of {pid}: {e}"))?;
            }
            let mut w = [0u8; 8];
            w.copy_from_slice(&flags[in_chunk * 8..in_chunk * 8 + 8]);
            let e = u64::from_ne_bytes(w);
            if e & (PRESENT | SWAPPED) == 0 || e & FILE_PAGE != 0 {
                continue;
            }
            let at = a.start + i * PAGE;
            let mut now = vec![0u8; PAGE as usize];
            read(pid, at, &mut now)?;
            let want = if a.name == "[vdso]" {
                own_vdso(i)?
            } else if a.inode != 0 {
                if file.is_none() {
                    file = Some(open(&a)?);
                }
                let (f, tails) = file.as_ref().ok_or("no file")?;
                // The loader clears a segment's tail only where it maps
                // it writable (the data, whose bss follows).
                file_page(f, if a.writable { tails } else { &[] }, a.offset + i * PAGE)?
            } else {
                vec![0u8; PAGE as usize]
            };
            if now != want {
                return Err(format!(
                    "its memory at {at:#x} ({}) was written before it was sealed",
                    if a.name.is_empty() {
                        "anonymous"
                    } else {
                        a.name
                    }
                ));
            }
        }
    }
    Ok(())
}

/// Zero what is in `pid`'s stack below `rsp`, its new stack pointer:
/// nothing the program is started with is there, but bytes another
/// process wrote before the seal could be, where a program that reads
/// stack it never wrote would find them. Only pages that are there at
/// all are written.
pub fn clear_below(pid: Pid, rsp: u64) -> Result<(), String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|e| format!("maps of {pid}: {e}"))?;
    let a = maps
        .lines()
        .filter_map(area)
        .find(|a| a.name == "[stack]" && a.start <= rsp && rsp <= a.end)
        .ok_or("no stack around the stack pointer")?;
    let pagemap =
        File::open(format!("/proc/{pid}/pagemap")).map_err(|e| format!("pagemap of {pid}: {e}"))?;
    let top = rsp & !(PAGE - 1);
    let pages = (top - a.start) / PAGE;
    let mut flags = vec![0u8; pages as usize * 8];
    pagemap
        .read_exact_at(&mut flags, a.start / PAGE * 8)
        .map_err(|e| format!("pagemap of {pid}: {e}"))?;
    let zeros = vec![0u8; PAGE as usize];
    for (i, entry) in flags.chunks_exact(8).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(entry);
        if u64::from_ne_bytes(w) & (PRESENT | SWAPPED) != 0 {
            super::tracee::write(pid, a.start + i as u64 * PAGE, &zeros, "stack")?;
        }
    }
    if rsp > top {
        super::tracee::write(pid, top, &zeros[..(rsp - top) as usize], "stack")?;
    }
    Ok(())
}

fn read(pid: Pid, at: u64, buf: &mut [u8]) -> Result<(), String> {
    match super::tracee::read_at(pid, at, buf)? {
        n if n == buf.len() => Ok(()),
        _ => Err(format!("short read of {pid} at {at:#x}")),
    }
}

/// The mapped file, checked to be the one mapped, and the file offsets
/// where its loadable segments' file bytes end short of their memory.
fn open(a: &Area<'_>) -> Result<(File, Vec<u64>), String> {
    let path = a.name;
    let f = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let m = f.metadata().map_err(|e| format!("{path}: {e}"))?;
    let dev = (
        u64::from(nix::libc::major(m.dev())),
        u64::from(nix::libc::minor(m.dev())),
    );
    if m.ino() != a.inode || dev != a.dev {
        return Err(format!("{path} is not the file it maps"));
    }
    let tails = elf_tails(&f).unwrap_or_default();
    Ok((f, tails))
}

/// The page of `f` at `offset` as the loader maps it.
fn file_page(f: &File, tails: &[u64], offset: u64) -> Result<Vec<u8>, String> {
    let mut want = vec![0u8; PAGE as usize];
    let mut got = 0;
    while got < want.len() {
        match f.read_at(&mut want[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    if let Some(tail) = tails.iter().find(|&&t| t > offset && t < offset + PAGE) {
        want[(tail - offset) as usize..].fill(0);
    }
    Ok(want)
}

/// For an ELF64 little-endian file: where each `PT_LOAD` segment with
/// more memory than file bytes ends in the file.
fn elf_tails(f: &File) -> Option<Vec<u64>> {
    let mut h = [0u8; 64];
    f.read_exact_at(&mut h, 0).ok()?;
    if &h[..4] != b"\x7fELF" || h[4] != 2 || h[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u64_at = |b: &[u8], o: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[o..o + 8]);
        u64::from_le_bytes(w)
    };
    let phoff = u64_at(&h, 0x20);
    let size = usize::from(u16_at(&h, 0x36));
    let count = usize::from(u16_at(&h, 0x38));
    if size < 56 || count > 256 {
        return None;
    }
    let mut table = vec![0u8; size * count];
    f.read_exact_at(&mut table, phoff).ok()?;
    Some(
        table
            .chunks_exact(size)
            .filter(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]) == 1)
            .filter(|p| u64_at(p, 40) > u64_at(p, 32))
            .filter_map(|p| u64_at(p, 8).checked_add(u64_at(p, 32)))
            .collect(),
    )
}

/// Page `i` of this process's own vDSO, read once: it never changes.
fn own_vdso(i: u64) -> Result<Vec<u8>, String> {
    static OWN: std::sync::OnceLock<Result<Vec<u8>, String>> = std::sync::OnceLock::new();
    let whole = OWN
        .get_or_init(|| {
            let maps = std::fs::read_to_string("/proc/self/maps").map_err(|e| e.to_string())?;
            let a = maps
                .lines()
                .filter_map(area)
                .find(|a| a.name == "[vdso]")
                .ok_or("no vDSO here to compare with")?;
            let mem = File::open("/proc/self/mem").map_err(|e| e.to_string())?;
            let mut all = vec![0u8; (a.end - a.start) as usize];
            mem.read_exact_at(&mut all, a.start)
                .map_err(|e| e.to_string())?;
            Ok(all)
        })
        .as_ref()
        .map_err(Clone::clone)?;
    let from = (i * PAGE) as usize;
    whole
        .get(from..from + PAGE as usize)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "a vDSO larger than this one".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maps_line_is_read_whole() {
        let a = area("7f1c2a000000-7f1c2a028000 r--p 00001000 fd:01 1835082    /usr/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        assert_eq!(
            (a.start, a.end, a.offset),
            (0x7f1c2a000000, 0x7f1c2a028000, 0x1000)
        );
        assert_eq!((a.dev, a.inode), ((0xfd, 1), 1835082));
        assert_eq!(a.name, "/usr/lib/x86_64-linux-gnu/libc.so.6");
        let anon = area("7ffd1000-7ffd2000 rw-p 00000000 00:00 0 ").unwrap();
        assert_eq!((anon.inode, anon.name), (0, ""));
    }

    #[test]
    fn a_segment_tail_page_is_the_file_then_zeros() {
        let dir = std::env::temp_dir().join(format!("guard-pristine-{}", std::process::id()));
        std::fs::write(&dir, vec![7u8; 3 * PAGE as usize]).unwrap();
        let f = File::open(&dir).unwrap();
        let page = file_page(&f, &[PAGE + 100], PAGE).unwrap();
        assert!(page[..100].iter().all(|&b| b == 7));
        assert!(page[100..].iter().all(|&b| b == 0));
        assert!(file_page(&f, &[PAGE + 100], 0)
            .unwrap()
            .iter()
            .all(|&b| b == 7));
        // Past the end of the file the page reads as zeros.
        assert!(file_page(&f, &[], 3 * PAGE)
            .unwrap()
            .iter()
            .all(|&b| b == 0));
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn this_process_is_its_own_vdso() {
        assert_eq!(own_vdso(0).unwrap().len(), PAGE as usize);
        assert_eq!(&own_vdso(0).unwrap()[..4], b"\x7fELF");
    }
}
