//! A macro for the many "numeric code with a meaning" tables of the hardware interface
//! (opcodes, status bytes, error codes): each becomes an enum with a lossless code
//! conversion, a human description and the list of every known value.

/// Defines a `#[repr($repr)]` enum of hardware codes.
///
/// Generated items: `from_code` (None for a value the hardware does not define), `code`,
/// `description`, `ALL` (every variant in declaration order) and a `Display` that prints the
/// description followed by the hexadecimal code.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $repr:ty {
            $( $(#[$vmeta:meta])* $var:ident = $val:expr => $desc:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr($repr)]
        $vis enum $name {
            $( $(#[$vmeta])* #[doc = $desc] $var = $val ),*
        }

        impl $name {
            /// Every value this enum knows, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$var ),* ];

            /// The variant for a raw code, or `None` for a code the hardware does not define.
            pub const fn from_code(code: $repr) -> Option<Self> {
                match code {
                    $( x if x == $val => Some($name::$var), )*
                    _ => None,
                }
            }

            /// The raw code.
            pub const fn code(self) -> $repr {
                self as $repr
            }

            /// A one-line human description.
            pub const fn description(self) -> &'static str {
                match self {
                    $( $name::$var => $desc ),*
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{} (0x{:x})", self.description(), self.code())
            }
        }

        impl TryFrom<$repr> for $name {
            type Error = $crate::HwError;
            fn try_from(code: $repr) -> Result<Self, Self::Error> {
                Self::from_code(code).ok_or($crate::HwError::UnknownCode {
                    kind: stringify!($name),
                    code: code as u64,
                })
            }
        }
    };
}

pub(crate) use code_enum;
