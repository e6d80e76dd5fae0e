//! Size limits on stored text, so one row cannot grow without bound.

pub const ID_CHARS: usize = 128;
pub const NAME_CHARS: usize = 256;
pub const EMAIL_CHARS: usize = 320;
pub const PHONE_CHARS: usize = 64;
pub const TEXT_CHARS: usize = 4096;
pub const TAGS_PER_CUSTOMER: usize = 100;
pub const ATTRIBUTES_PER_CUSTOMER: usize = 100;
pub const LINES_PER_ORDER: usize = 1000;
pub const MAX_PAGE_SIZE: usize = 1000;
pub const DEFAULT_PAGE_SIZE: usize = 100;
