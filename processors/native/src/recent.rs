//! The clean leaves of the item walked last, by position: spans of one batch tend to
//! repeat their attributes in the same order, and comparing a leaf's bytes with the one at
//! the same position of the previous item is cheaper than looking it up in the memory of
//! clean pieces.
//!
//! Contract: `matches(position, role, payload)` is true only if a leaf of the same role
//! with exactly these bytes was remembered at `position` (1-based, the n-th leaf of its
//! message) during this walk, so it was validated and found clean; a leaf of another role
//! never matches (the same bytes may be a clean attribute and a suspicious, or
//! ill-formed, span name). Positions past `POSITIONS` are not remembered.

use crate::schema::Role;

/// Positions remembered: the first 64 leaves of a message (position 0 is never used).
const POSITIONS: usize = 65;

pub struct RecentLeaves<'a> {
    slots: [(&'a [u8], Role); POSITIONS],
}

impl<'a> RecentLeaves<'a> {
    pub fn new() -> Self {
        // `Plain` is never a leaf's role: an empty slot matches nothing.
        RecentLeaves { slots: [(&[], Role::Plain); POSITIONS] }
    }

    /// Whether `payload` is the clean leaf of `role` remembered at `position`.
    #[inline(always)]
    pub fn matches(&self, position: usize, role: Role, payload: &[u8]) -> bool {
        match self.slots.get(position) {
            Some(&(bytes, slot_role)) => slot_role == role && bytes == payload,
            None => false,
        }
    }

    /// Remember that the clean leaf of `role` at `position` is `payload`.
    #[inline]
    pub fn remember(&mut self, position: usize, role: Role, payload: &'a [u8]) {
        if let Some(slot) = self.slots.get_mut(position) {
            *slot = (payload, role);
        }
    }
}
