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
//! swap. The blocks themselves come from the system allocator and stay in
//! their class for the instance's life (an instance's peak per class is
//! small and bounded by the host's memory limit). Larger or more aligned
//! requests go to the system allocator.
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
            // SAFETY: a non-zero size and a power-of-two alignment.
            return unsafe {
                System.alloc(Layout::from_size_align_unchecked(SMALLEST << c, SMALLEST))
            };
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
