//! Writes a kind's evidence struct with the engine's raises among its fields, each at its
//! sorted place: a serializer in front of the real one that accepts only a struct and turns it
//! into a map, inserting `new_account_until` and `watch_countries` before the first field
//! whose name sorts after them (at the end when none does).

use super::Raises;
use crate::country::CountryCode;
use crate::time::EventTime;
use serde::ser::{self, Impossible, Serialize, SerializeMap, SerializeStruct, Serializer};

/// The raises not yet written.
struct Pending<'a> {
    new_account_until: Option<&'a EventTime>,
    watch_countries: Option<&'a [CountryCode]>,
}

impl<'a> Pending<'a> {
    fn new(raises: &'a Raises) -> Self {
        Pending {
            new_account_until: raises.new_account_until.as_ref(),
            watch_countries: raises.watch_countries.as_deref(),
        }
    }

    /// Writes the raises whose keys sort before `next` (all that are left for `None`), in
    /// sorted order: "new_account_until" < "watch_countries".
    fn write_before<M: SerializeMap>(
        &mut self,
        map: &mut M,
        next: Option<&str>,
    ) -> Result<(), M::Error> {
        let due = |key: &str| next.is_none_or(|n| key < n);
        const UNTIL: &str = "new_account_until";
        const WATCH: &str = "watch_countries";
        if self.new_account_until.is_some() && due(UNTIL) {
            map.serialize_entry(UNTIL, &self.new_account_until.take())?;
        }
        if self.watch_countries.is_some() && due(WATCH) {
            map.serialize_entry(WATCH, &self.watch_countries.take())?;
        }
        Ok(())
    }
}

/// The serializer in front of the real one (see the module docs).
pub(super) struct Raised<'a, S> {
    inner: S,
    pending: Pending<'a>,
}

impl<'a, S> Raised<'a, S> {
    pub(super) fn new(inner: S, raises: &'a Raises) -> Self {
        Raised {
            inner,
            pending: Pending::new(raises),
        }
    }
}

/// A struct being written as a map, with the raises inserted.
pub(super) struct RaisedStruct<'a, M> {
    map: M,
    pending: Pending<'a>,
}

impl<M: SerializeMap> SerializeStruct for RaisedStruct<'_, M> {
    type Ok = M::Ok;
    type Error = M::Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        self.pending.write_before(&mut self.map, Some(key))?;
        self.map.serialize_entry(key, value)
    }

    fn end(mut self) -> Result<M::Ok, M::Error> {
        self.pending.write_before(&mut self.map, None)?;
        self.map.end()
    }
}

fn not_a_struct<E: ser::Error>() -> E {
    E::custom("raises go into a struct's evidence only")
}

/// The serializer methods for anything but a struct: all refuse.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*);)*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<S::Ok, S::Error> {
            Err(not_a_struct())
        }
    )*};
}

impl<'a, S: Serializer> Serializer for Raised<'a, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Impossible<S::Ok, S::Error>;
    type SerializeTuple = Impossible<S::Ok, S::Error>;
    type SerializeTupleStruct = Impossible<S::Ok, S::Error>;
    type SerializeTupleVariant = Impossible<S::Ok, S::Error>;
    type SerializeMap = Impossible<S::Ok, S::Error>;
    type SerializeStruct = RaisedStruct<'a, S::SerializeMap>;
    type SerializeStructVariant = Impossible<S::Ok, S::Error>;

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        // No length: a map announced empty would be closed at once.
        Ok(RaisedStruct {
            map: self.inner.serialize_map(None)?,
            pending: self.pending,
        })
    }

    refuse! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<S::Ok, S::Error> {
        Err(not_a_struct())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<S::Ok, S::Error> {
        Err(not_a_struct())
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<S::Ok, S::Error> {
        Err(not_a_struct())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        Err(not_a_struct())
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, S::Error> {
        Err(not_a_struct())
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Err(not_a_struct())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Err(not_a_struct())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Err(not_a_struct())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Err(not_a_struct())
    }
}
