//! The four functions the compiler calls for copies and comparisons,
//! which a C library would otherwise provide.

#[unsafe(no_mangle)]
unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the compiler calls this with valid, non-overlapping ranges.
    unsafe {
        for i in 0..n {
            *dest.add(i) = *src.add(i);
        }
    }
    dest
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: valid ranges; copied in the direction that survives overlap.
    unsafe {
        if (dest as usize) < (src as usize) {
            for i in 0..n {
                *dest.add(i) = *src.add(i);
            }
        } else {
            for i in (0..n).rev() {
                *dest.add(i) = *src.add(i);
            }
        }
    }
    dest
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: the compiler calls this with a valid range.
    unsafe {
        for i in 0..n {
            *dest.add(i) = c as u8;
        }
    }
    dest
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the compiler calls this with valid ranges.
    unsafe {
        for i in 0..n {
            let (x, y) = (*a.add(i), *b.add(i));
            if x != y {
                return i32::from(x) - i32::from(y);
            }
        }
    }
    0
}

#[unsafe(no_mangle)]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// The prebuilt `alloc` has landing pads that name the unwinder. The
/// front aborts on panic (`-C panic=abort`), so nothing ever unwinds to
/// them; should something try, the line is refused.
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    super::sys::exit(126)
}

/// Named by the same landing pads' unwind tables; never called.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}
