//! The typed clients against the simulators (`crates/simulators`), over
//! real unix sockets and real TLS 1.3: the same scenarios the in-process
//! scripted servers of `tests/over_http` pin request by request, here run
//! end to end against API-faithful LXD (both behaviour profiles: 5.0.2
//! `Legacy` and current), MicroCeph and MicroOVN daemons, including faults
//! injected through the simulators' fault API.
//!
//! Simulated durations are scaled by `support::TIME_SCALE` (0.01), so
//! operations are really `Running` when the client starts waiting, and the
//! whole target runs in a few seconds. Nothing here asserts on timing.
//!
//! # Coverage of the simulator fidelity checklist
//!
//! Every item of §10 of `service-apis.md`, with the tests that cover it on
//! the simulator side (`crates/simulators/tests/`, raw HTTP) and on the
//! client side (this target, and `tests/over_http/` with fixtures):
//!
//! | §10 item | simulator side | client side |
//! |---|---|---|
//! | Same envelope for all services | `lxd_rules::envelope_sync_error_and_async_shapes`, `faults::error_status_uses_the_services_envelope` | every test here decodes LXD, MicroCeph and MicroOVN envelopes; error envelopes: `microcluster::*_ready_bootstrap_tokens_join_members`, `faults::injected_5xx_are_transient_and_named` |
//! | 202 + `Location` for async; `status_code` 100 on creation | `lxd_rules::envelope_sync_error_and_async_shapes` | `lxd::operations::async_answers_are_202_with_location_and_a_running_operation` |
//! | Operation `Running` 103 → `Success` 200 / `Failure` 400 | `lxd_rules::join_tokens_are_token_operations_that_stay_running`, `lxd_rules::wait_on_failed_operation_*` | `lxd::cluster::bootstrap_tokens_and_joins_over_tls_*` (103, `Cancelled` 401, `Failure`), `lxd::storage::pending_then_global_*` (`assert_created`: 200) |
//! | Two LXD profiles selected by `api_extensions` | `lxd_rules::server_config_etag_and_local_keys`, `lxd_rules::legacy_creates_are_201_sync_current_are_202_async` | `lxd::server::server_get_patch_put_etag_and_token_field_{legacy,current}` (`ApiExtensions::token_field`) |
//! | Legacy: sync 201 pool/network create | `lxd_rules::legacy_creates_are_201_sync_current_are_202_async`, `lxd_cluster::three_member_cluster_legacy_5_0_2` | `lxd::storage::pending_then_global_pools_networks_profile_volumes_legacy` (`Completion::Sync` 201 + `Location`) |
//! | Legacy: `cluster_password` / `password` | `lxd_cluster::three_member_cluster_legacy_5_0_2`, `lxd_rules::certificate_token_flow_trusts_the_client` | `lxd::cluster::bootstrap_tokens_and_joins_over_tls_legacy` (the wrong field fails), `certificates::trust_by_token_over_https_legacy` |
//! | Current: async 202 | `lxd_rules::legacy_creates_are_201_sync_current_are_202_async` | `lxd::storage::pending_then_global_pools_networks_profile_volumes_current` (`Completion::Operation`) |
//! | Current: `cluster_token` / `trust_token`, 501 for `password` | `lxd_rules::current_refuses_password_field_with_501`, `lxd_rules::certificate_token_flow_trusts_the_client` | `lxd::cluster::bootstrap_tokens_and_joins_over_tls_current`, `certificates::trust_by_token_over_https_current` (501, permanent) |
//! | `/wait` on a failed op: current answers HTTP 200 + error envelope | `lxd_rules::wait_on_failed_operation_current_is_200_error_envelope` | `lxd::storage::pending_then_global_*_current` and `lxd::cluster::bootstrap_tokens_and_joins_over_tls_current` (`Error::OperationFailed` with `err_code`); legacy sync `Failure`: the `_legacy` twins; a wait that returns early: `lxd::operations::a_wait_that_returns_early_is_repeated_*` |
//! | Bootstrap needs a non-wildcard cluster address | `lxd_rules::bootstrap_needs_a_non_wildcard_cluster_address` | `lxd::cluster::bootstrap_tokens_and_joins_over_tls_*` |
//! | Join tokens are `token`-class ops that stay Running | `lxd_rules::join_tokens_are_token_operations_that_stay_running` | `lxd::cluster::bootstrap_tokens_and_joins_over_tls_*` (`operations`, revoked with `cancel_operation`) |
//! | Pending-pool rules: member-specific vs global keys, pending on all members, `Created` | `lxd_rules::pending_pool_rules_legacy_messages`, `lxd_rules::pending_pool_rules_current_fail_inside_the_operation`, `lxd_cluster::*` | `lxd::storage::pending_then_global_pools_networks_profile_volumes_*` (both key errors, missing member, `Pending` → `Created`, a later joiner's `member_config`) |
//! | OVN networks reject `?target=` | `lxd_rules::ovn_networks_reject_target_and_need_an_uplink` | `lxd::storage::pending_then_global_*` (400, permanent) |
//! | microcluster: `core/control` endpoints are socket-only | `microcluster::control_endpoints_are_socket_only` | `microcluster::*_ready_bootstrap_tokens_join_members` (over HTTPS: 403) |
//! | microcluster: 503 before init on `GET /core/1.0/cluster` | `microcluster::cluster_endpoints_answer_503_before_init` | `microcluster::*_ready_bootstrap_tokens_join_members` (transient); `/1.0/disks` too: `microcluster::microceph_disks_good_bad_used_and_forwarded` |
//! | Token = base64(JSON `{secret,fingerprint,join_addresses}`) | `microcluster::bootstrap_join_members_and_token_format` | `microcluster::*_ready_bootstrap_tokens_join_members` (`JoinToken::decode`, fingerprint = cluster certificate) |
//! | Join name must equal the token name | `microcluster::microcluster_token_misuse_is_refused` | `microcluster::*_ready_bootstrap_tokens_join_members` (`Error::ControlFailed`, permanent) |
//! | `extensions` string-or-array | `microcluster::bootstrap_join_members_and_token_format` | `microcluster::*_ready_bootstrap_tokens_join_members` (MicroCeph: string, MicroOVN: array); `over_http::microcluster::server_info_reads_extensions_as_string_or_array` |
//! | MicroCeph: GET-with-body on `/1.0/configs` | `microcluster::microceph_configs_pools_and_services` (no body → 500 `EOF`) | `microcluster::microceph_configs_pools_replication_and_services`; `over_http::microceph::configs_without_body_is_what_microceph_rejects` |
//! | MicroCeph: `POST /1.0/disks` always 200 with per-disk reports | `microcluster::microceph_disk_add_reports_per_disk`, `microcluster::microceph_partitioned_disk_needs_wipe` | `microcluster::microceph_disks_good_bad_used_and_forwarded` (`Error::DiskFailures` lists every failed disk, `Error::DiskValidation`), `microcluster::microceph_partitioned_disk_is_refused_until_wiped` |
//! | MicroCeph: `?target=` forwarding | `microcluster::microceph_disk_add_reports_per_disk`, `microcluster::microceph_configs_pools_and_services` | `microcluster::microceph_disks_good_bad_used_and_forwarded`, `microcluster::microceph_configs_pools_replication_and_services` (pools, pools-op); LXD's: `lxd::resources::resources_disks_cards_and_network_state_*`, `lxd::storage::pending_then_global_*` |
//! | MicroOVN: `GET /1.0/services` list | `microcluster::microovn_services_encap_ip_and_northbound` | `microcluster::microovn_services_encap_ip_and_northbound_connection` |
//! | MicroOVN: `ovn-encap-ip` init key | `microcluster::microovn_services_encap_ip_and_northbound` | `microcluster::microovn_services_encap_ip_and_northbound_connection` (`init_config`; a bad value fails the hook) |
//! | MicroOVN: NB connection `ssl:<ip>:6641,…` | `microcluster::microovn_services_encap_ip_and_northbound` | `microcluster::microovn_services_encap_ip_and_northbound_connection` (`northbound_connection`), used for LXD 5.0.2 in `lxd::storage::pending_then_global_*_legacy` |
//!
//! Fault classification (`faults`): injected 503/500 (`Status`,
//! `ControlFailed` 503), dropped connections (`Http`), hangs (`Timeout`,
//! also while waiting on an operation), crashes (`Connect`) are transient;
//! 400/403/404 and `OperationFailed` with a non-503 code are permanent;
//! every error names service, node, method and path.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod certificates;
mod faults;
mod lxd;
mod microcluster;
mod support;
