//! The clean leaves of the item walked last, by position: spans of one batch tend to
//! repeat their attributes in the same order, and comparing a leaf's bytes with the one at
//! the same position of the previous item is cheaper than looking it up in the memory of
//! clean pieces. Leaves remembered one after the other, with nothing between them in the
//! request, form a run: if the bytes of a whole run come again, field for field, the
//! walk can pass over them at once (`run`).
//!
//! Contract: `matches(position, role, payload)` is true only if a leaf of the same role
//! with exactly these bytes was remembered at `position` (1-based, the n-th leaf of its
//! message) during this walk, so it was validated and found clean; a leaf of another role
//! never matches (the same bytes may be a clean attribute and a suspicious, or
//! ill-formed, span name). `run(position, message)` gives the remembered leaves at
//! `position` and after it whose fields follow one another without a gap in the request
//! (at least two, all leaves of message type `message`): each of them matches itself, so
//! bytes equal to the whole range are the same leaves, each matching at its position.
//! Positions past `POSITIONS` are not remembered.

use crate::schema::Role;

/// Positions remembered: the first 64 leaves of a message (position 0 is never used).
const POSITIONS: usize = 65;

/// A remembered leaf: its payload, role and message type, and where its whole field (tag,
/// length, payload) is in the request (`start..end`).
#[derive(Clone, Copy)]
struct Slot<'a> {
    payload: &'a [u8],
    role: Role,
    message: u32,
    start: usize,
    end: usize,
}

/// A run of remembered leaves (see `RecentLeaves::run`).
pub struct Run {
    /// The position of its last leaf.
    pub last: usize,
    /// Where its fields are in the request.
    pub start: usize,
    pub end: usize,
}

pub struct RecentLeaves<'a> {
    slots: [Slot<'a>; POSITIONS],
}

impl<'a> RecentLeaves<'a> {
    pub fn new() -> Self {
        // `Plain` is never a leaf's role: an empty slot matches nothing.
        let empty = Slot { payload: &[], role: Role::Plain, message: u32::MAX, start: 0, end: 0 };
        RecentLeaves { slots: [empty; POSITIONS] }
    }

    /// Whether `payload` is the clean leaf of `role` remembered at `position`.
    #[inline(always)]
    pub fn matches(&self, position: usize, role: Role, payload: &[u8]) -> bool {
        match self.slots.get(position) {
            Some(slot) => slot.role == role && slot.payload == payload,
            None => false,
        }
    }

    /// Remember that the clean leaf of `role` at `position` of a message of type `message`
    /// is `payload`, its field at `start..end` of the request.
    #[inline]
    pub fn remember(
        &mut self,
        position: usize,
        role: Role,
        payload: &'a [u8],
        message: u32,
        start: usize,
        end: usize,
    ) {
        if let Some(slot) = self.slots.get_mut(position) {
            *slot = Slot { payload, role, message, start, end };
        }
    }

    /// The run of leaves of message type `message` remembered from `position` on, the
    /// first of `role`: fields that follow one another in the request; `None` if there
    /// is no such run of two leaves or more.
    #[inline]
    pub fn run(&self, position: usize, role: Role, message: u32) -> Option<Run> {
        let first = self.slots.get(position)?;
        if first.role != role || first.message != message {
            return None;
        }
        let mut last = position;
        let mut end = first.end;
        while let Some(next) = self.slots.get(last + 1) {
            if next.start != end || next.message != message || next.role == Role::Plain {
                break;
            }
            end = next.end;
            last += 1;
        }
        (last > position).then_some(Run { last, start: first.start, end })
    }
}
