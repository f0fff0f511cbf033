//! The disk filter language: any text is parsed; a filter that parses has
//! a canonical form that parses to the same filter, and both agree on any
//! disk. Nothing may panic.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use config_loader::filter::{Disk, DiskFilter};
use libfuzzer_sys::fuzz_target;

fn disk(bytes: &[u8]) -> Disk {
    let mut u = Unstructured::new(bytes);
    let text = |u: &mut Unstructured<'_>| String::arbitrary(u).unwrap_or_default();
    Disk {
        id: text(&mut u),
        device: text(&mut u),
        model: text(&mut u),
        r#type: text(&mut u),
        read_only: bool::arbitrary(&mut u).unwrap_or_default(),
        mounted: bool::arbitrary(&mut u).unwrap_or_default(),
        size: u64::arbitrary(&mut u).unwrap_or_default(),
        removable: bool::arbitrary(&mut u).unwrap_or_default(),
        wwn: text(&mut u),
        numa_node: u64::arbitrary(&mut u).unwrap_or_default(),
        device_path: text(&mut u),
        block_size: u64::arbitrary(&mut u).unwrap_or_default(),
        firmware_version: text(&mut u),
        rpm: u64::arbitrary(&mut u).unwrap_or_default(),
        serial: text(&mut u),
        device_id: text(&mut u),
        pci_address: text(&mut u),
        usb_address: text(&mut u),
        device_fs_uuid: text(&mut u),
        used_by: text(&mut u),
    }
}

fuzz_target!(|data: &[u8]| {
    let (expr, rest) = microcloud_fuzz::split_filter(data);
    let Ok(expr) = std::str::from_utf8(expr) else {
        return;
    };
    let disk = disk(rest);
    let filter = match DiskFilter::parse(expr) {
        Ok(filter) => filter,
        Err(errors) => {
            assert!(!errors.is_empty(), "a refusal without an error: {expr:?}");
            for e in &errors {
                let _ = e.to_string();
            }
            return;
        }
    };
    for w in filter.warnings() {
        let _ = w.to_string();
    }
    let canonical = filter.to_string();
    let again = DiskFilter::parse(&canonical)
        .unwrap_or_else(|e| panic!("{expr:?} → canonical {canonical:?} does not parse: {e:?}"));
    assert_eq!(filter, again, "{expr:?} → canonical {canonical:?}");
    assert_eq!(again.to_string(), canonical, "the canonical form is stable");
    assert_eq!(
        filter.matches(&disk),
        again.matches(&disk),
        "{expr:?} and {canonical:?} disagree on {disk:?}"
    );
});
