//! A small OCSF validator over a checked-in copy of the published schema definitions
//! (`tests/ocsf-schema/`): it resolves `extends` and `$include` as the schema server does and
//! checks an event against the result. Shared by the model's and the binary's tests.
//!
//! What it checks, at every level of the event: each attribute is defined for its class or
//! object (inherited and included ones count; a profile's only when `metadata.profiles`
//! names the profile) and not deprecated; each value has its dictionary type (arrays where
//! `is_array`, integers for `integer_t`/`long_t`/`timestamp_t`, IP addresses for `ip_t`...);
//! enum-valued attributes hold a value the schema defines, and a `sibling` caption matches it;
//! every `required` attribute is present and every `at_least_one` constraint is met; the
//! class, category and type ids agree with `categories.json` and the class definition; each
//! observable's `name` is an attribute path of the event that holds its `value`.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

type Obj = Map<String, Value>;

/// A class or object with its parents and includes resolved.
#[derive(Clone, Debug, Default)]
pub struct Def {
    pub name: String,
    pub caption: String,
    /// Attribute name → definition (dictionary entry, then the definitions over it).
    pub attributes: Obj,
    pub at_least_one: Vec<String>,
    /// Events: the category name and the class's own uid.
    pub category: Option<String>,
    pub uid: Option<u64>,
}

/// The loaded schema.
pub struct Schema {
    dir: PathBuf,
    pub version: String,
    dictionary: Obj,
    types: Obj,
    categories: Obj,
    objects: HashMap<String, Def>,
    events: HashMap<String, Def>,
}

fn read(path: &Path) -> Obj {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match serde_json::from_str(&text) {
        Ok(Value::Object(o)) => o,
        other => panic!("{}: not a JSON object: {other:?}", path.display()),
    }
}

/// `over` merged onto `base`, objects key by key (so an `enum` gains values).
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

impl Schema {
    /// Loads every definition under `dir` (the layout of the ocsf-schema repository).
    pub fn load(dir: &Path) -> Schema {
        let version = read(&dir.join("version.json"))["version"]
            .as_str()
            .expect("version")
            .to_owned();
        let dictionary = read(&dir.join("dictionary.json"));
        let mut schema = Schema {
            dir: dir.to_owned(),
            version,
            types: dictionary["types"]["attributes"]
                .as_object()
                .expect("types")
                .clone(),
            dictionary: dictionary["attributes"]
                .as_object()
                .expect("attributes")
                .clone(),
            categories: read(&dir.join("categories.json"))["attributes"]
                .as_object()
                .expect("categories")
                .clone(),
            objects: HashMap::new(),
            events: HashMap::new(),
        };
        for (sub, is_event) in [("objects", false), ("events", true)] {
            let mut paths = Vec::new();
            files(&dir.join(sub), &mut paths);
            let raw: HashMap<String, Obj> = paths
                .iter()
                .map(|p| read(p))
                .map(|o| (o["name"].as_str().expect("name").to_owned(), o))
                .collect();
            for name in raw.keys() {
                let def = schema.resolve(name, &raw);
                if is_event {
                    schema.events.insert(name.clone(), def);
                } else {
                    schema.objects.insert(name.clone(), def);
                }
            }
        }
        schema.observable_types();
        let names: Vec<String> = schema.events.keys().cloned().collect();
        for name in names {
            schema.classification_enums(&name);
        }
        schema
    }

    /// A class's `category_uid`, `class_uid` and `type_uid` values, as the schema server
    /// generates them: category uid, category × 1000 + class uid, class uid × 100 + activity.
    fn classification_enums(&mut self, name: &str) {
        let def = &self.events[name];
        let (Some(category), Some(uid)) = (def.category.clone(), def.uid) else {
            return;
        };
        let cat = &self.categories[&category];
        let cat_uid = cat["uid"].as_u64().expect("category uid");
        let class_uid = cat_uid * 1000 + uid;
        let caption = def.caption.clone();
        let activities: Vec<(u64, Value)> = def.attributes["activity_id"]["enum"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v["caption"].clone())))
            .collect();
        let mut add = |attr: &str, key: u64, caption: Value| {
            let def = self.events.get_mut(name).expect("class");
            let en = def.attributes[attr]
                .as_object_mut()
                .expect("attribute")
                .entry("enum")
                .or_insert_with(|| Value::Object(Obj::new()));
            en[key.to_string()] = serde_json::json!({ "caption": caption });
        };
        add("category_uid", cat_uid, cat["caption"].clone());
        add("class_uid", class_uid, caption.clone().into());
        for (id, activity) in activities {
            let text = format!("{caption}: {}", activity.as_str().unwrap_or(""));
            add("type_uid", class_uid * 100 + id, text.into());
        }
    }

    /// The attributes of `name`: its parent's, then its includes', then its own, each over
    /// its dictionary entry.
    fn resolve(&self, name: &str, raw: &HashMap<String, Obj>) -> Def {
        let file = raw
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the copy"));
        let mut def = match file.get("extends").and_then(Value::as_str) {
            Some(parent) => self.resolve(parent, raw),
            None => Def::default(),
        };
        def.name = name.to_owned();
        def.caption = file["caption"].as_str().unwrap_or(name).to_owned();
        let own = file["attributes"].as_object().cloned().unwrap_or_default();
        let includes = own.get("$include").and_then(Value::as_array);
        for path in includes.into_iter().flatten().filter_map(Value::as_str) {
            let inc = read(&self.dir.join(path));
            let profile = (inc.get("meta").and_then(Value::as_str) == Some("profile"))
                .then(|| inc["name"].clone());
            for (k, v) in inc["attributes"].as_object().into_iter().flatten() {
                let mut v = v.clone();
                if let (Some(p), Some(o)) = (&profile, v.as_object_mut()) {
                    o.insert("profile".into(), p.clone());
                }
                self.add(&mut def.attributes, k, &v);
            }
        }
        for (k, v) in own.iter().filter(|(k, _)| *k != "$include") {
            self.add(&mut def.attributes, k, v);
        }
        if let Some(list) = file.get("constraints").and_then(|c| c.get("at_least_one")) {
            def.at_least_one = serde_json::from_value(list.clone()).expect("constraint");
        }
        if let Some(c) = file.get("category").and_then(Value::as_str) {
            def.category = Some(c.to_owned());
        }
        def.uid = file.get("uid").and_then(Value::as_u64).or(def.uid);
        def
    }

    fn add(&self, attrs: &mut Obj, name: &str, over: &Value) {
        let entry = attrs.entry(name.to_owned()).or_insert_with(|| {
            self.dictionary
                .get(name)
                .cloned()
                .unwrap_or_else(|| panic!("{name} is not in the dictionary"))
        });
        merge(entry, over);
    }

    /// `observable.type_id` takes its values from the types, attributes and objects that
    /// declare an `observable` number, as the schema server generates them.
    fn observable_types(&mut self) {
        let mut found: Vec<(String, String)> = Vec::new();
        for (name, def) in self.types.iter().chain(self.dictionary.iter()) {
            if let Some(n) = def.get("observable").and_then(Value::as_u64) {
                let caption = def["caption"].as_str().unwrap_or(name);
                found.push((n.to_string(), caption.to_owned()));
            }
        }
        for path in ["objects"].iter().flat_map(|s| {
            let mut v = Vec::new();
            files(&self.dir.join(s), &mut v);
            v
        }) {
            let o = read(&path);
            if let Some(n) = o.get("observable").and_then(Value::as_u64) {
                found.push((
                    n.to_string(),
                    o["caption"].as_str().unwrap_or("").to_owned(),
                ));
            }
        }
        let observable = self
            .objects
            .get_mut("observable")
            .expect("observable object");
        let en = observable.attributes["type_id"]["enum"]
            .as_object_mut()
            .expect("type_id enum");
        for (n, caption) in found {
            en.insert(n, serde_json::json!({ "caption": caption }));
        }
    }

    /// The event class called `name`.
    pub fn class(&self, name: &str) -> &Def {
        &self.events[name]
    }

    /// Every problem with `event` as an instance of `class`; empty when it is valid.
    pub fn validate(&self, class: &str, event: &Value) -> Vec<String> {
        let def = self.class(class);
        let mut v = Validator {
            schema: self,
            profiles: event["metadata"]["profiles"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            problems: Vec::new(),
        };
        v.object(def, event, "");
        v.classification(def, event);
        v.observables(def, event);
        if event["metadata"]["version"] != self.version.as_str() {
            v.problems
                .push(format!("metadata.version is not {}", self.version));
        }
        v.problems
    }
}

struct Validator<'s> {
    schema: &'s Schema,
    profiles: Vec<String>,
    problems: Vec<String>,
}

impl<'s> Validator<'s> {
    fn applies(&self, attr: &Value) -> bool {
        attr.get("profile")
            .and_then(Value::as_str)
            .is_none_or(|p| self.profiles.iter().any(|x| x == p))
    }

    fn object(&mut self, def: &Def, value: &Value, path: &str) {
        let Some(obj) = value.as_object() else {
            self.problems
                .push(format!("{path}: not an object ({})", def.name));
            return;
        };
        for (k, v) in obj {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            match def.attributes.get(k) {
                Some(attr) if self.applies(attr) => {
                    if attr.get("@deprecated").is_some() {
                        self.problems.push(format!("{at}: deprecated"));
                    }
                    self.attribute(attr, v, &at, obj);
                }
                Some(_) => self.problems.push(format!("{at}: only with its profile")),
                None => self
                    .problems
                    .push(format!("{at}: not an attribute of {}", def.name)),
            }
        }
        for (k, attr) in &def.attributes {
            let required = attr["requirement"] == "required" && self.applies(attr);
            if required && obj.get(k).is_none_or(Value::is_null) {
                self.problems
                    .push(format!("{path}: {} lacks required {k}", def.name));
            }
        }
        if !def.at_least_one.is_empty() && !def.at_least_one.iter().any(|k| obj.contains_key(k)) {
            self.problems.push(format!(
                "{path}: {} needs one of {:?}",
                def.name, def.at_least_one
            ));
        }
    }

    fn attribute(&mut self, attr: &Value, v: &Value, at: &str, parent: &Obj) {
        if attr["is_array"] == true {
            match v.as_array() {
                Some(items) => {
                    for item in items {
                        self.scalar_or_object(attr, item, at, parent);
                    }
                }
                None => self.problems.push(format!("{at}: not an array")),
            }
        } else {
            self.scalar_or_object(attr, v, at, parent);
        }
    }

    fn scalar_or_object(&mut self, attr: &Value, v: &Value, at: &str, parent: &Obj) {
        let ty = attr["type"].as_str().unwrap_or("");
        if let Some(def) = self.object_def(ty) {
            return self.object(def, v, at);
        }
        let ok = match self.base_type(ty) {
            "object" | "json_t" => true,
            "string_t" => v.is_string(),
            "integer_t" | "long_t" => v.is_i64() || v.is_u64(),
            "float_t" => v.is_number(),
            "boolean_t" => v.is_boolean(),
            other => {
                self.problems.push(format!("{at}: unknown type {other}"));
                true
            }
        };
        if !ok {
            self.problems.push(format!("{at}: {v} is not a {ty}"));
        }
        if ty == "ip_t" && v.as_str().and_then(|s| s.parse::<IpAddr>().ok()).is_none() {
            self.problems
                .push(format!("{at}: {v} is not an IP address"));
        }
        if let Some(en) = attr.get("enum").and_then(Value::as_object) {
            let key = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match en.get(&key) {
                None => self
                    .problems
                    .push(format!("{at}: {v} is not one of {:?}", en.keys())),
                Some(item) => self.sibling(attr, item, &key, at, parent),
            }
        }
    }

    /// The caption beside an enum id (`severity` beside `severity_id`) names that value.
    fn sibling(&mut self, attr: &Value, item: &Value, key: &str, at: &str, parent: &Obj) {
        let Some(sibling) = attr.get("sibling").and_then(Value::as_str) else {
            return;
        };
        if let Some(text) = parent.get(sibling) {
            if key != "99" && text != &item["caption"] {
                self.problems
                    .push(format!("{at}: {sibling} {text} is not {}", item["caption"]));
            }
        }
    }

    fn base_type<'a>(&'a self, ty: &'a str) -> &'a str {
        match self.schema.types.get(ty).and_then(|t| t["type"].as_str()) {
            Some(base) => self.base_type(base),
            None => ty,
        }
    }

    fn classification(&mut self, def: &Def, e: &Value) {
        let category = def.category.as_deref().unwrap_or("");
        let category_uid = self.schema.categories[category]["uid"].as_u64();
        let class_uid = category_uid.zip(def.uid).map(|(c, u)| c * 1000 + u);
        let activity = e["activity_id"].as_u64();
        let checks = [
            ("category_uid", category_uid),
            ("class_uid", class_uid),
            (
                "type_uid",
                class_uid.zip(activity).map(|(c, a)| c * 100 + a),
            ),
        ];
        for (key, want) in checks {
            if e[key].as_u64() != want {
                self.problems
                    .push(format!("{key} is {}, the schema says {want:?}", e[key]));
            }
        }
    }

    /// Each observable names an attribute path of the event that holds its value.
    fn observables(&mut self, def: &Def, e: &Value) {
        for o in e["observables"].as_array().into_iter().flatten() {
            let name = o["name"].as_str().unwrap_or("");
            match self.values_at(def, e, name) {
                None => self
                    .problems
                    .push(format!("observable {name}: not an attribute path")),
                Some(found) if !found.contains(&&o["value"]) => self
                    .problems
                    .push(format!("observable {name}: {} is not there", o["value"])),
                Some(_) => {}
            }
        }
    }

    /// The values at a dotted path (through arrays); `None` when the schema has no such path.
    fn values_at<'e>(&self, def: &Def, e: &'e Value, path: &str) -> Option<Vec<&'e Value>> {
        // Where the path is: in an object of the schema, below a free-form one, or at a
        // scalar (which nothing can follow).
        let (mut at, mut values) = (Some(Some(def)), vec![e]);
        for key in path.split('.') {
            at = match at? {
                None => Some(None),
                Some(d) => {
                    let ty = d.attributes.get(key)?["type"].as_str()?;
                    match self.object_def(ty) {
                        Some(o) => Some(Some(o)),
                        None if self.free_form(ty) => Some(None),
                        None => None,
                    }
                }
            };
            values = values
                .into_iter()
                .filter_map(|v| v.get(key))
                .flat_map(|v| match v.as_array() {
                    Some(a) => a.iter().collect(),
                    None => vec![v],
                })
                .collect();
        }
        Some(values)
    }

    /// The definition of an object type; not `object`, which holds anything.
    fn object_def(&self, ty: &str) -> Option<&'s Def> {
        (ty != "object")
            .then(|| self.schema.objects.get(ty))
            .flatten()
    }

    fn free_form(&self, ty: &str) -> bool {
        matches!(self.base_type(ty), "object" | "json_t")
    }
}
