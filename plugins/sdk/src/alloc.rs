//! A size-class allocator for plugins (feature `size-class-alloc`; the
//! built-in plugins use it).
//!
//! Every string and list the host passes in is a separate allocation in
//! the plugin, freed when the call returns, and so is most of what a
//! judgement builds. Replacing the system allocator (wasi-libc's dlmalloc)
//! with this one saved about an eighth of the time two built-ins take per
//! kill (docs/benchmarks-history.md).
//!
//! Blocks of up to 1 KiB come from seven power-of-two classes, each a free
//! list of blocks of its size: taking and giving back a block is a pointer
//! swap. The blocks themselves come from `fresh` (below) and stay in their class
//! for the instance's life (an instance's peak per class is small and
//! bounded by the host's memory limit). Larger or more aligned requests go
//! to the system allocator.
//!
//! Sound only without threads: WebAssembly plugins have none (`wasm32`
//! only; the module is not built for anything else).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;

/// Classes of 16, 32, … 1024 bytes.
const CLASSES: usize = 7;
const SMALLEST: usize = 16;
const LARGEST: usize = SMALLEST << (CLASSES - 1);

/// The head of each class's free list; a free block holds the next one's
/// address in its first bytes.
struct FreeLists(UnsafeCell<[*mut u8; CLASSES]>);

// SAFETY: a wasm32 plugin has a single thread; nothing else can reach it.
unsafe impl Sync for FreeLists {}

static FREE: FreeLists = FreeLists(UnsafeCell::new([std::ptr::null_mut(); CLASSES]));

/// The class serving `layout`, if one does.
fn class(layout: &Layout) -> Option<usize> {
    if layout.align() > SMALLEST || layout.size() > LARGEST {
        return None;
    }
    let size = layout.size().max(SMALLEST).next_power_of_two();
    Some((size.trailing_zeros() - SMALLEST.trailing_zeros()) as usize)
}

pub struct SizeClasses;

// SAFETY: blocks of a class are `SMALLEST << class` bytes, 16-aligned, so
// they satisfy every layout the class serves; a block is on a free list
// only between its `dealloc` and the next `alloc` of its class.
unsafe impl GlobalAlloc for SizeClasses {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(&layout) else {
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: single-threaded (see `FreeLists`); no other borrow lives.
        let free = unsafe { &mut *FREE.0.get() };
        let head = free[c];
        if head.is_null() {
            return fresh::block(SMALLEST << c);
        }
        // SAFETY: `head` is a free block of this class holding the next.
        free[c] = unsafe { *(head as *mut *mut u8) };
        head
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(c) = class(&layout) else {
            return unsafe { System.dealloc(ptr, layout) };
        };
        // SAFETY: single-threaded; `ptr` is a block of class `c` (the same
        // layout allocated it), at least 16 bytes and 16-aligned.
        let free = unsafe { &mut *FREE.0.get() };
        unsafe { *(ptr as *mut *mut u8) = free[c] };
        free[c] = ptr;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's alignment is a valid one.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(&layout), class(&new)) {
            // The block already has room.
            (Some(a), Some(b)) if a == b => ptr,
            (None, None) => unsafe { System.realloc(ptr, layout, new_size) },
            _ => {
                let moved = unsafe { self.alloc(new) };
                if !moved.is_null() {
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                moved
            }
        }
    }
}

#[global_allocator]
static ALLOCATOR: SizeClasses = SizeClasses;

// Where a class's new blocks come from.
#[cfg(target_os = "unknown")]
mod fresh {
    //! On `wasm32-unknown-unknown` (the built-ins' target) the system
    //! allocator (Rust's dlmalloc) takes memory only by growing the linear
    //! memory, never from the unused end of the memory the module starts
    //! with. So every fresh instance would grow its memory at its first
    //! allocation, and under `strict` isolation that grow, and the reset of
    //! the slot after it, cost a system call (`mprotect`) each per call.
    //! Class blocks are carved from that unused end instead (from
    //! `__heap_base`), and memory grows only when it is used up.
    use super::SMALLEST;
    use core::arch::wasm32::{memory_grow, memory_size};
    use std::cell::UnsafeCell;

    const PAGE: usize = 65536;

    unsafe extern "C" {
        /// Where the linker put the end of the module's data and stack.
        static __heap_base: u8;
    }

    /// The next free byte and the end of the region blocks are carved
    /// from (both 0 until the first block).
    struct Region(UnsafeCell<(usize, usize)>);

    // SAFETY: a wasm32 plugin has a single thread; nothing else can reach it.
    unsafe impl Sync for Region {}

    static REGION: Region = Region(UnsafeCell::new((0, 0)));

    /// A block of `size` bytes (at most a page), 16-aligned; null when the
    /// memory cannot grow (the host's limit).
    pub fn block(size: usize) -> *mut u8 {
        // SAFETY: single-threaded (see `Region`); no other borrow lives.
        let (next, end) = unsafe { &mut *REGION.0.get() };
        if *end == 0 {
            *next = (&raw const __heap_base) as usize;
            *end = memory_size(0) * PAGE;
        }
        let mut start = next.next_multiple_of(SMALLEST);
        if start + size > *end {
            let pages = size.div_ceil(PAGE);
            let old = memory_grow(0, pages);
            if old == usize::MAX {
                return std::ptr::null_mut();
            }
            // The new pages continue the region unless the system
            // allocator grew the memory since.
            if old * PAGE != *end {
                start = old * PAGE;
            }
            *end = (old + pages) * PAGE;
        }
        *next = start + size;
        start as *mut u8
    }
}

/// Where a class's new blocks come from: the system allocator (wasi-libc's
/// `malloc`, which already starts from the unused end of the initial memory).
#[cfg(not(target_os = "unknown"))]
mod fresh {
    use super::SMALLEST;
    use std::alloc::{GlobalAlloc, Layout, System};

    /// A block of `size` bytes, 16-aligned; null when memory is exhausted.
    pub fn block(size: usize) -> *mut u8 {
        // SAFETY: a non-zero size and a power-of-two alignment.
        unsafe { System.alloc(Layout::from_size_align_unchecked(size, SMALLEST)) }
    }
}
