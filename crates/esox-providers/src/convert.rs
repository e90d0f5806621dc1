//! Conversions between API types and esox-core's.

/// `conversionStrategy` as esox-core spells it (unset means `Default`).
pub(crate) fn conversion(
    c: Option<esox_api::v1::ConversionStrategy>,
) -> esox_core::keys::ConversionStrategy {
    match c {
        Some(esox_api::v1::ConversionStrategy::Unicode) => {
            esox_core::keys::ConversionStrategy::Unicode
        }
        Some(esox_api::v1::ConversionStrategy::Default) | None => {
            esox_core::keys::ConversionStrategy::Default
        }
    }
}
