//! The message types of an OTLP request, as the Python side describes them from the
//! protobuf descriptors, and validation of an encoding against them.
//!
//! Validation accepts what protobuf's own parser accepts: a field of a known number with
//! an unexpected wire type is an unknown field (kept, not checked); strings must be UTF-8;
//! packed scalars must have whole elements; nesting is bounded by `wire::MAX_DEPTH`.

use crate::wire::{next_field, read_varint, WireError, WireResult, LEN};

/// What a field holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Varint,
    Fixed64,
    Fixed32,
    String,
    Bytes,
    Message(usize),
}

/// What the walk does with a field (besides validating it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    /// Validated only.
    Plain,
    /// A `KeyValue` attribute given to the engine whole.
    Attribute,
    /// A free-text string (span name, status message...).
    Text,
    /// A log body (`AnyValue`).
    Body,
    /// A message walked for its own leaves.
    Walk,
}

#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub kind: Kind,
    pub role: Role,
}

/// What the first pass does with a LEN field of a message (one branch per field, decided
/// once from the field's kind and role; small, so that the table stays in few cache lines).
#[derive(Clone, Copy, Debug)]
pub enum Action {
    /// Nothing to check: an unknown field, or bytes.
    Skip,
    /// A string: check that it is UTF-8.
    Utf8,
    /// Check the payload as the field's kind (a message only validated, packed scalars).
    Check,
    /// Walk message `child`; `counted`: it is an item counted in the totals.
    Walk { child: u32, counted: bool },
    /// A leaf of `role` (its kind is the field's).
    Leaf(Role),
}

/// One message type: its fields by number (and the first pass's `actions`, by number);
/// for an item, the attribute field that gets `redaction.count` (`count_field`, 0 if
/// none) and whether it is counted in the totals.
#[derive(Debug, Default)]
pub struct MessageSpec {
    pub fields: Vec<Option<FieldSpec>>,
    pub actions: Vec<Action>,
    pub count_field: u32,
    pub counted: bool,
}

impl MessageSpec {
    #[inline]
    pub fn field(&self, number: u32) -> Option<FieldSpec> {
        self.fields.get(number as usize).copied().flatten()
    }
}

/// All the message types the walk may meet, by index.
#[derive(Debug, Default)]
pub struct Schema {
    pub messages: Vec<MessageSpec>,
}

/// A field as the Python side gives it: (number, kind code, child index, role code).
pub type RawField = (u32, u8, usize, u8);

impl Schema {
    /// Build from the Python description; `Err` names the first inconsistency.
    pub fn new(raw: Vec<(u32, bool, Vec<RawField>)>) -> Result<Schema, String> {
        let count = raw.len();
        let mut messages = Vec::with_capacity(count);
        // The kind each leaf role holds: one per role, so that a piece's bytes and role say
        // how it was validated (the memories of clean pieces are kept by role).
        let mut leaf_kinds: [Option<Kind>; 5] = [None; 5];
        for (index, (count_field, counted, fields)) in raw.into_iter().enumerate() {
            let mut spec =
                MessageSpec { fields: Vec::new(), actions: Vec::new(), count_field, counted };
            for (number, kind, child, role) in fields {
                let kind = match kind {
                    0 => Kind::Varint,
                    1 => Kind::Fixed64,
                    2 => Kind::Fixed32,
                    3 => Kind::String,
                    4 => Kind::Bytes,
                    5 if child < count => Kind::Message(child),
                    _ => return Err(format!("message {index} field {number}: bad kind {kind}")),
                };
                let role = match role {
                    0 => Role::Plain,
                    1 => Role::Attribute,
                    2 => Role::Text,
                    3 => Role::Body,
                    4 => Role::Walk,
                    _ => return Err(format!("message {index} field {number}: bad role {role}")),
                };
                let needs_message = matches!(role, Role::Attribute | Role::Body | Role::Walk);
                if needs_message != matches!(kind, Kind::Message(_)) && role != Role::Plain {
                    return Err(format!(
                        "message {index} field {number}: role {role:?} on {kind:?}"
                    ));
                }
                if role == Role::Text && kind != Kind::String {
                    return Err(format!("message {index} field {number}: text field not a string"));
                }
                if matches!(role, Role::Attribute | Role::Text | Role::Body) {
                    let known = leaf_kinds[role as usize].get_or_insert(kind);
                    if *known != kind {
                        return Err(format!(
                            "message {index} field {number}: role {role:?} on {kind:?} and {known:?}"
                        ));
                    }
                }
                let slot = number as usize;
                if spec.fields.len() <= slot {
                    spec.fields.resize(slot + 1, None);
                }
                spec.fields[slot] = Some(FieldSpec { kind, role });
            }
            messages.push(spec);
        }
        if u32::try_from(count).is_err() {
            return Err(format!("{count} message types: too many"));
        }
        let counted: Vec<bool> = messages.iter().map(|spec| spec.counted).collect();
        for spec in &mut messages {
            spec.actions = spec.fields.iter().map(|field| action(*field, &counted)).collect();
        }
        Ok(Schema { messages })
    }

    /// Check that `data` is a valid encoding of message `index` at nesting `depth`.
    pub fn validate(&self, index: usize, data: &[u8], depth: u32) -> WireResult<()> {
        if depth > crate::wire::MAX_DEPTH {
            return Err(WireError("message nested too deep".to_string()));
        }
        let spec = &self.messages[index];
        let mut pos = 0;
        while pos < data.len() {
            let field = next_field(data, pos, depth)?;
            pos = field.end;
            if field.wire_type != LEN {
                continue;
            }
            if let Some(kind) = spec.field(field.number).map(|f| f.kind) {
                self.validate_payload(kind, &data[field.payload..field.end], depth)?;
            }
        }
        Ok(())
    }

    /// Check the payload of a LEN field holding `kind`.
    pub fn validate_payload(&self, kind: Kind, payload: &[u8], depth: u32) -> WireResult<()> {
        match kind {
            Kind::String => check_utf8(payload),
            Kind::Message(child) => self.validate(child, payload, depth + 1),
            Kind::Varint => {
                let mut pos = 0;
                while pos < payload.len() {
                    pos = read_varint(payload, pos)?.1;
                }
                Ok(())
            }
            Kind::Fixed64 if !payload.len().is_multiple_of(8) => {
                Err(WireError("packed fixed64 field of a partial element".to_string()))
            }
            Kind::Fixed32 if !payload.len().is_multiple_of(4) => {
                Err(WireError("packed fixed32 field of a partial element".to_string()))
            }
            _ => Ok(()),
        }
    }
}

/// The first pass's action for `field` (`counted`: which message types are counted items;
/// fewer than 2^32 of them).
fn action(field: Option<FieldSpec>, counted: &[bool]) -> Action {
    let Some(FieldSpec { kind, role }) = field else {
        return Action::Skip;
    };
    match (role, kind) {
        (Role::Plain, Kind::Bytes) => Action::Skip,
        (Role::Plain, Kind::String) => Action::Utf8,
        (Role::Plain, _) => Action::Check,
        (Role::Walk, Kind::Message(child)) => {
            Action::Walk { child: child as u32, counted: counted[child] }
        }
        (role, _) => Action::Leaf(role),
    }
}

#[inline]
pub fn check_utf8(payload: &[u8]) -> WireResult<()> {
    std::str::from_utf8(payload)
        .map(|_| ())
        .map_err(|error| WireError(format!("string field is not valid UTF-8: {error}")))
}
