//! A changed message as a list of edits to its original bytes, and the writer that puts
//! the new request straight into its result buffer.
//!
//! Contract: a `Rebuilt` knows the exact length of its new encoding (`len`) before it is
//! written; `write_to` writes exactly that many bytes, copying the unchanged ranges of the
//! original and writing each edit in place (a nested changed message with its new length).
//! `Output` checks every write against the space left, so a wrong length is a panic, never
//! a write past the buffer.

use crate::wire::write_varint;

/// A change to one message: bytes `start..end` of its encoding become `content`.
pub struct Edit<'d> {
    pub start: usize,
    pub end: usize,
    pub content: Content<'d>,
}

pub enum Content<'d> {
    /// The field is left out.
    Dropped,
    /// New bytes (a whole field: tag, length, payload).
    Bytes(Vec<u8>),
    /// The same tag (`tag`, original bytes) before a changed message.
    Message { tag: &'d [u8], message: Rebuilt<'d> },
}

impl Content<'_> {
    fn len(&self) -> usize {
        match self {
            Content::Dropped => 0,
            Content::Bytes(bytes) => bytes.len(),
            Content::Message { tag, message } => {
                tag.len() + varint_len(message.len as u64) + message.len
            }
        }
    }
}

/// A changed message: its original encoding, the edits (sorted, not overlapping) and the
/// length of its new encoding. Written once, into the result (`write_to`).
pub struct Rebuilt<'d> {
    data: &'d [u8],
    edits: Vec<Edit<'d>>,
    pub len: usize,
}

impl<'d> Rebuilt<'d> {
    /// `data` with `edits` (sorted by position, not overlapping) applied.
    pub fn new(data: &'d [u8], edits: Vec<Edit<'d>>) -> Self {
        let removed: usize = edits.iter().map(|edit| edit.end - edit.start).sum();
        let added: usize = edits.iter().map(|edit| edit.content.len()).sum();
        Rebuilt { data, edits, len: data.len() - removed + added }
    }

    /// Write the new encoding to `out`, which takes exactly `self.len` more bytes.
    pub fn write_to(&self, out: &mut Output) {
        let mut cursor = 0;
        for edit in &self.edits {
            out.put(&self.data[cursor..edit.start]);
            match &edit.content {
                Content::Dropped => {}
                Content::Bytes(bytes) => out.put(bytes),
                Content::Message { tag, message } => {
                    out.put(tag);
                    let mut size = Vec::with_capacity(5);
                    write_varint(&mut size, message.len as u64);
                    out.put(&size);
                    message.write_to(out);
                }
            }
            cursor = edit.end;
        }
        out.put(&self.data[cursor..]);
    }
}

/// Where a rebuilt request is written: a buffer of known size, not initialised beforehand
/// (the new bytes object of the result), filled from the start; every write is checked
/// against the space left.
pub struct Output {
    next: *mut u8,
    left: usize,
}

impl Output {
    /// # Safety
    /// `start` must be valid for writes of `size` bytes for the life of this `Output`.
    pub unsafe fn new(start: *mut u8, size: usize) -> Output {
        Output { next: start, left: size }
    }

    fn put(&mut self, bytes: &[u8]) {
        assert!(bytes.len() <= self.left, "rebuilt request longer than computed");
        // SAFETY: `next` has `left` writable bytes (see `new`), `bytes` is another buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.next, bytes.len());
            self.next = self.next.add(bytes.len());
        }
        self.left -= bytes.len();
    }

    /// Bytes not written yet (0 once the whole request is written).
    pub fn left(&self) -> usize {
        self.left
    }
}

/// The length of `value` written as a varint.
fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}
