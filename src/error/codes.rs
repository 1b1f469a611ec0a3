//! The contract's 10xx codes (§14), each under a name that says what it means here. The
//! contract reuses numbers — 1005 is a missing device IP, a missing MySafe item, a missing DSM
//! secret or provision, and an unknown related user — so every meaning gets its own name, and
//! no other file spells a 10xx number.

pub const PARAMETER_NOT_INFORMED: u16 = 1001;
pub const MYSAFE_NOTE_TOO_LONG: u16 = 1001;
pub const MYSAFE_IDENTIFIER_TAKEN: u16 = 1001;
pub const SESSION_NOT_FOUND: u16 = 1002;
pub const SESSION_ID_NOT_NUMERIC: u16 = 1003;
pub const DEVICE_HOSTNAME_NOT_INFORMED: u16 = 1004;
pub const DEVICE_IP_NOT_INFORMED: u16 = 1005;
pub const MYSAFE_ITEM_NOT_FOUND: u16 = 1005;
pub const DSM_SECRET_NOT_FOUND: u16 = 1005;
pub const DSM_PROVISION_NOT_FOUND: u16 = 1005;
pub const RELATED_USER_NOT_FOUND: u16 = 1005;
pub const MYSAFE_NO_ACCESS: u16 = 1006;
pub const CREDENTIAL_NOT_FOUND: u16 = 1007;
pub const CREDENTIAL_INACTIVE: u16 = 1008;
pub const CREDENTIAL_NO_ACCESS: u16 = 1009;
pub const NOT_A_CREDENTIAL: u16 = 1010;
pub const DEVICE_NOT_FOUND: u16 = 1011;
pub const SSH_PUBLIC_KEY_NOT_INFORMED: u16 = 1013;
pub const SSH_PRIVATE_KEY_NOT_INFORMED: u16 = 1014;
pub const SSH_KEY_NOT_FOUND: u16 = 1015;
pub const NOT_AN_SSH_KEY: u16 = 1016;
pub const SSH_KEY_INACTIVE: u16 = 1017;
pub const NOT_IN_CUSTODY: u16 = 1018;
pub const DEVICE_SITE_NOT_INFORMED: u16 = 1019;
pub const DEVICE_MODEL_NOT_INFORMED: u16 = 1020;
pub const DEVICE_VENDOR_NOT_INFORMED: u16 = 1021;
pub const DEVICE_TYPE_NOT_INFORMED: u16 = 1022;
pub const INFO_NOT_FOUND: u16 = 1023;
pub const INFO_INACTIVE: u16 = 1024;
pub const DSM_SECRET_EXPIRED: u16 = 1024;
pub const INFO_CONTENT_NOT_INFORMED: u16 = 1026;
pub const DOMAIN_NOT_REGISTERED: u16 = 1029;
pub const READ_ONLY_AUTHORIZATION: u16 = 1039;
pub const INVALID_USERNAME: u16 = 1042;
pub const CREDENTIAL_ALREADY_ACTIVE: u16 = 1043;
pub const SSH_KEY_ALREADY_ACTIVE: u16 = 1045;
pub const PLUGIN_NOT_INFORMED: u16 = 1046;
pub const TEMPLATE_PLUGIN_NOT_INFORMED: u16 = 1047;
pub const INVALID_IDENTIFIER: u16 = 1053;
