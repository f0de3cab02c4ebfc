//! Proof of delivery: the `proof` a driver gives at completion, the images
//! it uploads first (names, types by magic bytes, size), which uploads a
//! ride keeps, and who may read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::identity::{Caller, Role};
use super::invalid::Invalid;
use super::lifecycle::StepError;
use super::ride::{RideRecord, RideStatus};

/// Largest proof image accepted, in bytes (5 MiB).
pub const MAX_PROOF_BYTES: usize = 5 * 1024 * 1024;
/// Longest `value` of a proof.
pub const MAX_PROOF_VALUE_CHARS: usize = 512;
/// Most images one ride keeps.
pub const MAX_PROOF_OBJECTS: usize = 10;

/// The kinds of proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofType {
    /// A QR code scanned at the drop-off (`value`: its text).
    QrCode,
    /// A code the recipient told the driver (`value`).
    Code,
    /// The recipient's signature (`object`: the uploaded image).
    Signature,
    /// A photo of the delivery (`object`: the uploaded image).
    Photo,
}

/// The `proof` of a completion, as stored and shown in the ride.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Which kind.
    #[serde(rename = "type")]
    pub kind: ProofType,
    /// The code or text (required for `qr_code` and `code`; a note otherwise).
    #[serde(default)]
    pub value: Option<String>,
    /// The name of an uploaded image (required for `signature` and `photo`).
    #[serde(default)]
    pub object: Option<String>,
}

impl Proof {
    /// Checks the proof's own shape: `qr_code`/`code` need a `value` and
    /// take no `object`; `signature`/`photo` need an `object`.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(value) = &self.value {
            if value.trim().is_empty() || value.chars().count() > MAX_PROOF_VALUE_CHARS {
                return Err(Invalid::field("proof.value", "must be 1 to 512 characters"));
            }
        }
        match self.kind {
            ProofType::QrCode | ProofType::Code => {
                if self.value.is_none() {
                    return Err(Invalid::field("proof.value", "is required for a qr_code or code proof"));
                }
                if self.object.is_some() {
                    return Err(Invalid::field("proof.object", "is for signature and photo proofs"));
                }
            }
            ProofType::Signature | ProofType::Photo => match self.object.as_deref() {
                None => return Err(Invalid::field("proof.object", "is required for a signature or photo proof")),
                Some(name) if !is_proof_name(name) => return Err(Invalid::field("proof.object", NAME_RULE)),
                Some(_) => {}
            },
        }
        Ok(())
    }
}

const NAME_RULE: &str = "must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'";

/// Whether `name` may name a proof image: 1 to 64 of `A-Za-z0-9_-`.
pub fn is_proof_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The image type the bytes really are (by their magic bytes), if one accepted.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Checks an upload: a declared `Content-Type` among the three accepted,
/// matching the bytes' own type; the type to store.
pub fn check_image(declared: Option<&str>, bytes: &[u8]) -> Result<&'static str, Invalid> {
    let declared = declared.map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let declared = declared.as_deref().filter(|t| ["image/jpeg", "image/png", "image/webp"].contains(t));
    let Some(declared) = declared else {
        return Err(Invalid("Content-Type must be image/jpeg, image/png or image/webp".into()));
    };
    match sniff_image(bytes) {
        Some(real) if real == declared => Ok(real),
        Some(real) => Err(Invalid(format!("the body is {real}, not the {declared} its Content-Type says"))),
        None => Err(Invalid(format!("the body is not a {declared} image"))),
    }
}

/// An image the ride keeps: where it is in the bucket and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofObject {
    /// Its key in the `PROOFS` bucket (each upload its own key).
    pub key: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was uploaded.
    pub uploaded_at: i64,
}

/// A ride's uploaded images by name.
pub type ProofObjects = BTreeMap<String, ProofObject>;

/// The bucket key of one upload: unique per upload (`upload_id`), so a late
/// upload never changes the bytes a completed ride refers to.
pub fn object_key(ride_id: &str, name: &str, upload_id: &str) -> String {
    format!("rides/{ride_id}/proof/{name}/{upload_id}")
}

impl RideRecord {
    /// Whether `driver_id` may upload a proof image now: the assigned
    /// driver, before the ride is completed (a name may be replaced until then).
    pub fn may_upload_proof(&self, driver_id: &str, name: &str) -> Result<(), StepError> {
        if self.ride.driver.as_ref().is_none_or(|d| d.id != driver_id) {
            return Err(StepError::Forbidden("only the ride's assigned driver may upload its proof"));
        }
        if !matches!(self.ride.status, RideStatus::Accepted | RideStatus::Arrived | RideStatus::InProgress) {
            return Err(StepError::InvalidTransition { from: self.ride.status.as_str(), to: "proof upload" });
        }
        if !self.proof_objects.contains_key(name) && self.proof_objects.len() >= MAX_PROOF_OBJECTS {
            return Err(StepError::Invalid(format!("a ride keeps at most {MAX_PROOF_OBJECTS} proof images")));
        }
        Ok(())
    }

    /// Records an uploaded image under `name` (checked again: the ride may
    /// have moved on during the upload); returns the key it replaced, if any.
    pub fn record_proof_object(
        &mut self,
        driver_id: &str,
        name: &str,
        object: ProofObject,
    ) -> Result<Option<String>, StepError> {
        self.may_upload_proof(driver_id, name)?;
        Ok(self.proof_objects.insert(name.to_string(), object).map(|old| old.key))
    }

    /// The image `name`, for its passenger, partner, assigned driver or a dispatcher.
    pub fn proof_object_for(&self, caller: &Caller, name: &str) -> Option<&ProofObject> {
        let ride = &self.ride;
        let allowed = match caller.role {
            Role::Dispatcher => true,
            Role::Passenger => ride.passenger.id.as_deref() == Some(caller.sub.as_str()),
            Role::Partner => ride.partner_id.as_deref() == Some(caller.sub.as_str()),
            Role::Driver => ride.driver.as_ref().is_some_and(|d| d.id == caller.sub),
        };
        allowed.then(|| self.proof_objects.get(name)).flatten()
    }

    /// The proof of a completion, checked against the ride: required when
    /// the ride says so; an image proof must name an uploaded image.
    pub fn check_proof(&self, proof: Option<&Proof>) -> Result<(), StepError> {
        let Some(proof) = proof else {
            if self.ride.proof_required {
                return Err(StepError::Invalid("proof: this ride needs a proof of delivery to complete".into()));
            }
            return Ok(());
        };
        proof.validate().map_err(|e| StepError::Invalid(e.0))?;
        if let Some(name) = &proof.object {
            if !self.proof_objects.contains_key(name) {
                return Err(StepError::Invalid(format!(
                    "proof.object: no image {name} was uploaded for this ride (PUT /v1/rides/{}/proof/{name})",
                    self.ride.id
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(json: &str) -> Proof {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn code_proofs_need_a_value_and_image_proofs_an_object() {
        assert!(proof(r#"{"type":"code","value":"1234"}"#).validate().is_ok());
        assert!(proof(r#"{"type":"qr_code"}"#).validate().is_err());
        assert!(proof(r#"{"type":"code","value":"1","object":"a"}"#).validate().is_err());
        assert!(proof(r#"{"type":"photo","object":"door"}"#).validate().is_ok());
        assert!(proof(r#"{"type":"signature"}"#).validate().is_err());
        assert!(proof(r#"{"type":"photo","object":"../x"}"#).validate().is_err());
        assert!(proof(r#"{"type":"code","value":"  "}"#).validate().is_err());
        assert!(serde_json::from_str::<Proof>(r#"{"type":"video","object":"a"}"#).is_err());
        assert!(serde_json::from_str::<Proof>(r#"{"type":"code","value":"1","extra":1}"#).is_err());
    }

    #[test]
    fn proof_names_are_short_safe_words() {
        assert!(is_proof_name("door-photo_1"));
        assert!(is_proof_name(&"a".repeat(64)));
        for bad in ["", "a/b", "..", "a.jpg", "é", &"a".repeat(65)] {
            assert!(!is_proof_name(bad), "{bad}");
        }
    }

    #[test]
    fn an_image_is_judged_by_its_magic_bytes_not_its_content_type() {
        let png = b"\x89PNG\r\n\x1a\n rest";
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0];
        let webp = b"RIFF\x10\0\0\0WEBPVP8 ";
        assert_eq!(check_image(Some("image/png"), png), Ok("image/png"));
        assert_eq!(check_image(Some("image/jpeg; charset=binary"), &jpeg), Ok("image/jpeg"));
        assert_eq!(check_image(Some("image/webp"), webp), Ok("image/webp"));
        assert!(check_image(Some("image/jpeg"), png).is_err(), "a PNG declared as JPEG");
        assert!(check_image(Some("image/png"), b"<html>hi</html>").is_err(), "not an image");
        assert!(check_image(Some("text/plain"), png).is_err(), "type not accepted");
        assert!(check_image(None, png).is_err(), "no type");
        assert!(check_image(Some("image/gif"), b"GIF89a").is_err(), "gif not accepted");
    }

    #[test]
    fn each_upload_has_its_own_key() {
        assert_ne!(object_key("r", "door", "u1"), object_key("r", "door", "u2"));
        assert_eq!(object_key("r", "door", "u1"), "rides/r/proof/door/u1");
    }
}
