//! The Detection Finding as it is written: structs borrowing from the alert and its
//! evidence, each listing its fields in byte order of their names (the order of the sorted
//! maps the findings were first written from, so the bytes stay those). The mapping that
//! fills them is in `ocsf.rs`.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// A Detection Finding (fields in byte order, see the module docs).
#[derive(Serialize)]
pub(super) struct Finding<'a> {
    pub(super) activity_id: u32,
    pub(super) activity_name: &'static str,
    pub(super) category_name: &'static str,
    pub(super) category_uid: u32,
    pub(super) class_name: &'static str,
    pub(super) class_uid: u32,
    pub(super) evidences: Vec<Entry<'a>>,
    pub(super) finding_info: Info<'a>,
    pub(super) message: &'a str,
    pub(super) metadata: Metadata,
    pub(super) observables: Vec<Observable<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) risk_score: Option<u8>,
    pub(super) severity: &'static str,
    pub(super) severity_id: u8,
    pub(super) status: &'static str,
    pub(super) status_id: u8,
    pub(super) time: i64,
    pub(super) timezone_offset: u8,
    pub(super) type_name: &'static str,
    pub(super) type_uid: u32,
    pub(super) unmapped: Unmapped<'a>,
}

#[derive(Serialize)]
pub(super) struct Info<'a> {
    pub(super) analytic: Analytic,
    pub(super) created_time: i64,
    pub(super) desc: &'a str,
    pub(super) first_seen_time: i64,
    pub(super) last_seen_time: i64,
    pub(super) related_events: Related<'a>,
    pub(super) title: &'static str,
    pub(super) types: [&'static str; 1],
    pub(super) uid: &'a str,
}

#[derive(Serialize)]
pub(super) struct Analytic {
    pub(super) name: &'static str,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) type_id: u8,
}

/// `related_events`: `{"uid": …}` per event id.
pub(super) struct Related<'a>(pub(super) &'a [String]);

impl Serialize for Related<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Uid<'a> {
            uid: &'a str,
        }
        s.collect_seq(self.0.iter().map(|uid| Uid { uid }))
    }
}

#[derive(Serialize)]
pub(super) struct Metadata {
    pub(super) product: Product,
    pub(super) version: &'static str,
}

#[derive(Serialize)]
pub(super) struct Product {
    pub(super) name: &'static str,
    pub(super) vendor_name: &'static str,
    pub(super) version: &'static str,
}

#[derive(Serialize)]
pub(super) struct Unmapped<'a> {
    /// The evidence object as the alert has it (the value the finding was built from).
    pub(super) evidence: &'a serde_json::Value,
}

/// One `evidences[]` entry: a login, the shared_ip network, a member, or the bare account.
#[derive(Serialize)]
pub(super) struct Entry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) actor: Option<Actor<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) data: Option<Data<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) src_endpoint: Option<Endpoint<'a>>,
}

/// The actor of a login: the account, as a user with that name and unique id. (`actor`, not
/// `evidences.user`, which OCSF added only in 1.3: the finding is valid from 1.2 to 1.8.)
#[derive(Serialize)]
pub(super) struct Actor<'a> {
    pub(super) user: User<'a>,
}

#[derive(Serialize)]
pub(super) struct User<'a> {
    pub(super) name: &'a str,
    pub(super) uid: &'a str,
}

pub(super) fn actor(account: &str) -> Option<Actor<'_>> {
    Some(Actor {
        user: User {
            name: account,
            uid: account,
        },
    })
}

#[derive(Serialize, Default)]
pub(super) struct Endpoint<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) autonomous_system: Option<System<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) location: Option<Location<'a>>,
}

impl Endpoint<'_> {
    pub(super) fn is_empty(&self) -> bool {
        self.autonomous_system.is_none() && self.ip.is_none() && self.location.is_none()
    }
}

#[derive(Serialize)]
pub(super) struct System<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<&'a str>,
    pub(super) number: u64,
}

/// A login's place: the evidence's `city`, `country`, `lat` and `lon` (as `long`), those
/// that are not null.
#[derive(Serialize)]
pub(super) struct Location<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) city: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) country: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) lat: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) long: Option<&'a Value>,
}

/// An entry's `data`: fields of an evidence object, in its (byte) order.
pub(super) struct Data<'a> {
    pub(super) obj: &'a Map<String, Value>,
    pub(super) pick: Pick,
}

pub(super) enum Pick {
    /// The fields not named (nor null, nor `[]`): what the rest of the entry does not say.
    Rest(&'static [&'static str]),
    /// The fields named that are present.
    Only(&'static [&'static str]),
}

impl<'a> Data<'a> {
    pub(super) fn fields(&self) -> impl Iterator<Item = (&'a String, &'a Value)> + '_ {
        self.obj.iter().filter(move |(k, v)| match self.pick {
            Pick::Rest(used) => {
                !used.contains(&k.as_str())
                    && !v.is_null()
                    && v.as_array().is_none_or(|a| !a.is_empty())
            }
            Pick::Only(keys) => keys.contains(&k.as_str()),
        })
    }
}

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.fields() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
pub(super) struct Observable<'a> {
    pub(super) name: &'static str,
    #[serde(rename = "type")]
    pub(super) caption: &'static str,
    pub(super) type_id: u8,
    pub(super) value: &'a str,
}
