//! The disk filter language used by `storage.local[].find` and `storage.ceph[].find`.
//!
//! A filter is a boolean expression over the fields of a disk as reported by
//! LXD (`/1.0/resources`, `storage.disks[]`). A disk is a candidate when the
//! filter [matches](DiskFilter::matches) it.
//!
//! ```
//! use config_loader::filter::{Disk, DiskFilter};
//!
//! let filter = DiskFilter::parse("type == nvme && size >= 1TiB").unwrap();
//! let disk = Disk { r#type: "NVMe".into(), size: 2 << 40, ..Disk::default() };
//! assert!(filter.matches(&disk));
//! assert_eq!(filter.to_string(), r#"type == "nvme" && size >= 1099511627776"#);
//! ```
//!
//! # Grammar
//!
//! ```text
//! expr    := or
//! or      := and ( "||" and )*
//! and     := unary ( "&&" unary )*
//! unary   := "!" unary | "(" expr ")" | clause
//! clause  := FIELD OP VALUE
//! OP      := "==" | "!=" | "<" | ">" | "<=" | ">="
//! VALUE   := QUOTED | BARE
//! QUOTED  := '"' any characters except '"' '"'
//!          | "'" any characters except "'" "'"
//! BARE    := one or more characters other than whitespace, quotes and ( ) & | = ! < >
//! FIELD   := a BARE word naming one of the fields below
//! ```
//!
//! * Whitespace separates tokens but is never required: `size>10GiB` and
//!   `size > 10GiB` are the same filter.
//! * `&&` binds tighter than `||`: `a || b && c` means `a || (b && c)`.
//!   Both are left-associative. Parentheses group as usual.
//! * `!` negates the unary that follows it: `!type == hdd` means
//!   `!(type == hdd)`, and `!a && b` means `(!a) && b`.
//! * Quotes only delimit a value; they are needed for values containing
//!   spaces or any of `( ) & | = ! < >`, e.g. `model == "INTEL SSD"`. There
//!   are no escapes: use `'...'` for a value containing `"` and vice versa.
//!   A quote in the middle of a bare word is an error.
//! * At most 64 levels of parentheses and `!` may be nested.
//!
//! # Fields and comparisons
//!
//! | Kind     | Fields | Operators | Values |
//! |----------|--------|-----------|--------|
//! | text     | `id`, `device`, `model`, `type`, `wwn`, `device_path`, `firmware_version`, `serial`, `device_id`, `pci_address`, `usb_address`, `device_fs_uuid`, `used_by` | `==` `!=` | glob pattern |
//! | numeric  | `size`, `numa_node`, `block_size`, `rpm` | all six | base-10 integer; `size` also takes units |
//! | boolean  | `read_only`, `mounted`, `removable` | `==` `!=` | `true`/`false` (also `1 t T TRUE True 0 f F FALSE False`) |
//!
//! **Text** values are glob patterns matched against the *whole* field,
//! ignoring case: `*` matches any sequence of characters (including none),
//! `?` matches exactly one character, and every other character, including
//! `.`, matches itself. Case is ignored character by character using the
//! Unicode lowercase mapping. So `device_id == *lxd_disk1` selects disks whose
//! `device_id` ends with `lxd_disk1`, and `model == "INTEL*"` those whose
//! model starts with `INTEL`. `!=` is the negation of `==`.
//!
//! **Sizes** are a whole number of bytes, optionally followed without a space
//! by a case-sensitive unit: `B`, `kB`, `MB`, `GB`, `TB`, `PB`, `EB` (powers
//! of 1000) or `KiB`, `MiB`, `GiB`, `TiB`, `PiB`, `EiB` (powers of 1024).
//! Values above `u64::MAX` bytes (e.g. `20EiB`) are errors. See [`parse_size`].
//!
//! `partitions` cannot be filtered: disks with partitions are never
//! candidates. Any other name is an unknown field.
//!
//! # Errors
//!
//! [`DiskFilter::parse`] reports a syntax error (the first one: the rest of
//! the text cannot be read reliably after it), or, when the syntax is fine,
//! one error for every clause with an unknown field, an operator the field
//! does not support, or a value of the wrong kind. Each [`FilterError`]
//! carries the 0-based *character* offset and length of the offending text,
//! for a caret underline, plus an optional help line.
//!
//! # MicroCloud compatibility
//!
//! Canonical MicroCloud evaluates filters strictly left to right, with no
//! precedence and no parentheses, so it reads `a || b && c` as
//! `(a || b) && c`. Whenever a parenthesis-free sequence of clauses has an
//! `&&` after an `||`, the two readings differ and
//! [`DiskFilter::warnings`] reports a [`FilterWarning`] pointing at that
//! `&&`. Writing the parentheses explicitly silences it.
//!
//! # Canonical form
//!
//! [`DiskFilter`]'s `Display` prints a fully explicit canonical form: text
//! values quoted, sizes in bytes, booleans as `true`/`false`, every nested
//! `&&`/`||` and every `!` operand parenthesised, e.g.
//! `type == "nvme" || (type == "ssd" && size > 1099511627776)`. Parsing the
//! canonical form gives back an equal filter.

mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;
mod value;

use std::fmt;
use std::str::FromStr;

use lexer::Span;
pub use value::parse_size;

/// A parsed, type-checked disk filter.
///
/// Equality compares the meaning as parsed (the syntax tree), not the source
/// text: `size>1` and `size > 1` are equal filters, and so are a filter and
/// its canonical [`Display`](fmt::Display) form.
#[derive(Clone, Debug)]
pub struct DiskFilter {
    source: String,
    expr: parser::Expr,
    warnings: Vec<FilterWarning>,
}

impl DiskFilter {
    /// Parses and type-checks a filter expression.
    ///
    /// # Errors
    ///
    /// Returns the first syntax error, or one error per bad clause (unknown
    /// field, unsupported operator, invalid value), in source order. The
    /// vector is never empty.
    pub fn parse(source: &str) -> Result<DiskFilter, Vec<FilterError>> {
        let (expr, warnings) = parser::parse(source)?;
        Ok(DiskFilter {
            source: source.to_owned(),
            expr,
            warnings,
        })
    }

    /// The text the filter was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `disk` satisfies the filter.
    pub fn matches(&self, disk: &Disk) -> bool {
        eval::eval(&self.expr, disk)
    }

    /// Compatibility warnings (see the [module documentation](self)), ordered
    /// by position in the source.
    pub fn warnings(&self) -> Vec<FilterWarning> {
        self.warnings.clone()
    }
}

impl PartialEq for DiskFilter {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

impl Eq for DiskFilter {}

impl fmt::Display for DiskFilter {
    /// Writes the canonical form (see the [module documentation](self)).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.expr, f)
    }
}

impl FromStr for DiskFilter {
    type Err = Vec<FilterError>;

    fn from_str(source: &str) -> Result<Self, Self::Err> {
        DiskFilter::parse(source)
    }
}

/// An error in a filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// What is wrong, e.g. `unknown field "sizee"`.
    pub message: String,
    /// 0-based offset, in characters, of the offending text in the expression.
    pub offset: usize,
    /// Length, in characters, of the offending text (0 at the end of input).
    pub len: usize,
    /// How to fix it, e.g. `did you mean "size"?`.
    pub help: Option<String>,
}

impl FilterError {
    fn new(message: impl Into<String>, span: Span, help: Option<String>) -> Self {
        Self {
            message: message.into(),
            offset: span.start,
            len: span.len,
            help,
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FilterError {}

/// A filter that is valid but may not mean the same to Canonical MicroCloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterWarning {
    /// What may be misread and how MicroCloud would read it.
    pub message: String,
    /// 0-based offset, in characters, of the text the warning is about.
    pub offset: usize,
    /// Length, in characters, of that text.
    pub len: usize,
    /// How to avoid the ambiguity.
    pub help: Option<String>,
}

impl fmt::Display for FilterWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The facts about one disk that filters can test (LXD /1.0/resources storage.disks[] entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disk {
    /// Kernel name, e.g. `nvme0n1`.
    pub id: String,
    /// Major:minor device number, e.g. `259:0`.
    pub device: String,
    /// Disk model.
    pub model: String,
    /// Disk type: `nvme`, `hdd`, `ssd`, `cdrom`, `usb`, ...
    pub r#type: String,
    /// Whether the disk is read-only.
    pub read_only: bool,
    /// Whether the disk is mounted.
    pub mounted: bool,
    /// Size in bytes.
    pub size: u64,
    /// Whether the disk is removable.
    pub removable: bool,
    /// World Wide Name.
    pub wwn: String,
    /// NUMA node the disk is attached to.
    pub numa_node: u64,
    /// Path under `/dev/disk/by-path`.
    pub device_path: String,
    /// Block size in bytes.
    pub block_size: u64,
    /// Firmware version.
    pub firmware_version: String,
    /// Rotation speed (0 for solid-state disks).
    pub rpm: u64,
    /// Serial number.
    pub serial: String,
    /// Identifier under `/dev/disk/by-id`.
    pub device_id: String,
    /// PCI address.
    pub pci_address: String,
    /// USB address.
    pub usb_address: String,
    /// UUID of the filesystem on the disk, if any.
    pub device_fs_uuid: String,
    /// What is using the disk, if anything.
    pub used_by: String,
}

/// A disk field that filters can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `id` (text).
    Id,
    /// `device` (text).
    Device,
    /// `model` (text).
    Model,
    /// `type` (text).
    Type,
    /// `read_only` (boolean).
    ReadOnly,
    /// `mounted` (boolean).
    Mounted,
    /// `size` (numeric, accepts units).
    Size,
    /// `removable` (boolean).
    Removable,
    /// `wwn` (text).
    Wwn,
    /// `numa_node` (numeric).
    NumaNode,
    /// `device_path` (text).
    DevicePath,
    /// `block_size` (numeric).
    BlockSize,
    /// `firmware_version` (text).
    FirmwareVersion,
    /// `rpm` (numeric).
    Rpm,
    /// `serial` (text).
    Serial,
    /// `device_id` (text).
    DeviceId,
    /// `pci_address` (text).
    PciAddress,
    /// `usb_address` (text).
    UsbAddress,
    /// `device_fs_uuid` (text).
    DeviceFsUuid,
    /// `used_by` (text).
    UsedBy,
}

/// The type of a [`Field`], which decides the operators and values allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Text matched with glob patterns; `==` and `!=` only.
    Text,
    /// Unsigned 64-bit integer; all six comparison operators.
    Unsigned,
    /// Boolean; `==` and `!=` only.
    Bool,
}

impl Field {
    /// Every field, in LXD's order.
    pub const ALL: [Field; 20] = [
        Field::Id,
        Field::Device,
        Field::Model,
        Field::Type,
        Field::ReadOnly,
        Field::Mounted,
        Field::Size,
        Field::Removable,
        Field::Wwn,
        Field::NumaNode,
        Field::DevicePath,
        Field::BlockSize,
        Field::FirmwareVersion,
        Field::Rpm,
        Field::Serial,
        Field::DeviceId,
        Field::PciAddress,
        Field::UsbAddress,
        Field::DeviceFsUuid,
        Field::UsedBy,
    ];

    /// The name used in filters (LXD's YAML name), e.g. `read_only`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Device => "device",
            Field::Model => "model",
            Field::Type => "type",
            Field::ReadOnly => "read_only",
            Field::Mounted => "mounted",
            Field::Size => "size",
            Field::Removable => "removable",
            Field::Wwn => "wwn",
            Field::NumaNode => "numa_node",
            Field::DevicePath => "device_path",
            Field::BlockSize => "block_size",
            Field::FirmwareVersion => "firmware_version",
            Field::Rpm => "rpm",
            Field::Serial => "serial",
            Field::DeviceId => "device_id",
            Field::PciAddress => "pci_address",
            Field::UsbAddress => "usb_address",
            Field::DeviceFsUuid => "device_fs_uuid",
            Field::UsedBy => "used_by",
        }
    }

    /// The field's type.
    pub fn kind(self) -> FieldKind {
        match self {
            Field::ReadOnly | Field::Mounted | Field::Removable => FieldKind::Bool,
            Field::Size | Field::NumaNode | Field::BlockSize | Field::Rpm => FieldKind::Unsigned,
            Field::Id
            | Field::Device
            | Field::Model
            | Field::Type
            | Field::Wwn
            | Field::DevicePath
            | Field::FirmwareVersion
            | Field::Serial
            | Field::DeviceId
            | Field::PciAddress
            | Field::UsbAddress
            | Field::DeviceFsUuid
            | Field::UsedBy => FieldKind::Text,
        }
    }

    /// The field called `name` (exact, case-sensitive), if any.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.name() == name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
