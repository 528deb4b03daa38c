//! The front's heap: one arena, handed out in order and never given
//! back. The process lives for one line and then execs, so nothing is
//! worth freeing; running out is a panic, which refuses the line.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Far above one line's needs: the largest frame is 1 MiB, and pages
/// never touched cost nothing.
const ARENA: usize = 32 << 20;

struct Arena {
    bytes: UnsafeCell<[u8; ARENA]>,
    next: AtomicUsize,
}

// SAFETY: the front has one thread; `next` is atomic regardless.
unsafe impl Sync for Arena {}

#[global_allocator]
static HEAP: Arena = Arena {
    bytes: UnsafeCell::new([0; ARENA]),
    next: AtomicUsize::new(0),
};

// SAFETY: every block is inside the arena, aligned as asked, and handed
// out once.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.bytes.get() as usize;
        let mut out = core::ptr::null_mut();
        let _ = self
            .next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| {
                let start = (base + next).checked_add(layout.align() - 1)? & !(layout.align() - 1);
                let end = start.checked_add(layout.size())?;
                if end > base + ARENA {
                    return None;
                }
                out = start as *mut u8;
                Some(end - base)
            });
        out
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    /// Growing the newest block in place keeps a growing buffer from
    /// copying itself across the arena.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let base = self.bytes.get() as usize;
        let end = ptr as usize + layout.size();
        let grown = end - base == self.next.load(Ordering::Relaxed)
            && (ptr as usize - base) + new_size <= ARENA;
        if grown {
            self.next
                .store(ptr as usize - base + new_size, Ordering::Relaxed);
            return ptr;
        }
        // SAFETY: as `GlobalAlloc::realloc`'s default: a new block, the
        // old contents copied.
        unsafe {
            let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            }
            new
        }
    }
}
