/*
 * TravelJob: loginwatch's impossible_travel rule as an Apache Flink DataStream job, the peer that
 * benches/flink-harness.sh runs next to `loginwatch replay` on the same pre-located JSON-lines
 * stream. Compiled and run against the jars of PyPI's `apache-flink-libraries` (Flink 2.3.0 when
 * written); see benches/flink/README.md for what it does and does not do.
 *
 *   java [Flink's --add-opens flags] -Xmx4g -cp <pyflink/lib/*>:<classes> TravelJob \
 *        --input FILE [--output /dev/null] [--object-reuse true] \
 *        [--max-speed-kmh 900] [--min-distance-km 100] [--cooldown-min 60]
 *
 * Topology (parallelism 1, one task slot, streaming mode, heap state, no checkpoints):
 *
 *   FileSource(TextLineInputFormat) -> Parse (flatMap, chained to the source)
 *     -> keyBy(account_id) -> Travel (KeyedProcessFunction, keyed ValueState)
 *     -> ToJson (map, chained) -> LineSink (the JSON lines to --output, default /dev/null)
 *
 * Parsing: Jackson databind into a POJO, through the copy of Jackson that Flink shades into
 * flink-dist (org.apache.flink.shaded.jackson2), as a Flink user would; timestamps with
 * java.time.Instant.parse (RFC 3339). Alerts: a POJO serialized with the same ObjectMapper, one
 * line each, written through a 1 MiB buffer, so the job does the work loginwatch does for its
 * alerts (build the summary sentence and the evidence, hash the id, serialize, write).
 *
 * The rule, per account, as crates/loginwatch-detect/src/detectors/travel.rs has it for logins
 * that arrive in time order (the configuration defaults of [detect.impossible_travel]):
 *  - only successful logins (event_type login, outcome success, both the defaults) with a `geo`
 *    hint (lat and lon) take part: no GeoIP database here, the stream is pre-located;
 *  - each is compared with the account's baseline, its latest earlier located login that was not
 *    through an anonymizer (`geo.proxy: true`); an anonymized login is checked but never becomes
 *    the baseline;
 *  - no alert for the same host (equal IPv4 address, same IPv6 /64); distance = haversine
 *    (Earth radius 6371.0088 km, coordinates rounded to float as loginwatch stores them) minus
 *    both accuracy radii (geo.accuracy_km, rounded up), floored at 0; no alert when it is 0 or
 *    below min_distance_km (100); alert when the speed exceeds max_speed_kmh (900), zero elapsed
 *    time counting as infinitely fast;
 *  - severity by distance and speed (one step lower through an anonymizer), as in travel.rs;
 *  - loginwatch's suppression for the kind: within the cooldown (engine.suppression_cooldown,
 *    1 h) an account alerts again only for a hop at least 1.25x faster than the remembered one
 *    or with a country not yet alerted.
 * Simplified (see README.md): a login older than the account's newest one is counted as late
 * and not used (loginwatch slots logins up to engine.max_lateness, 5 min, late into the
 * account's history and checks both neighbours); no ASN, so no dual-stack exemption; no
 * engine bounds (max_accounts, idle_timeout): every account's last login is kept.
 */

import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.core.fs.Path;
import org.apache.flink.shaded.guava33.com.google.common.hash.Hasher;
import org.apache.flink.shaded.guava33.com.google.common.hash.Hashing;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.DeserializationFeature;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectReader;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectWriter;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.PropertyNamingStrategies;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public final class TravelJob {

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parseArgs(argv);
        String input = args.get("input");
        if (input == null) {
            System.err.println("usage: TravelJob --input FILE [--output FILE] [--object-reuse true|false] "
                    + "[--max-speed-kmh 900] [--min-distance-km 100] [--cooldown-min 60]");
            System.exit(2);
        }
        String output = args.getOrDefault("output", "/dev/null");
        boolean reuse = Boolean.parseBoolean(args.getOrDefault("object-reuse", "true"));
        Rule rule = new Rule(
                Double.parseDouble(args.getOrDefault("max-speed-kmh", "900")),
                Double.parseDouble(args.getOrDefault("min-distance-km", "100")),
                Long.parseLong(args.getOrDefault("cooldown-min", "60")) * 60_000L);

        Configuration conf = new Configuration();
        conf.set(ExecutionOptions.RUNTIME_MODE, RuntimeExecutionMode.STREAMING);
        conf.set(PipelineOptions.OBJECT_REUSE, reuse);
        conf.set(StateBackendOptions.STATE_BACKEND, "hashmap");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(1);

        FileSource<String> source =
                FileSource.forRecordStreamFormat(new TextLineInputFormat(), new Path(input)).build();
        env.fromSource(source, WatermarkStrategy.noWatermarks(), "jsonl")
                .flatMap(new Parse()).name("parse")
                .keyBy(l -> l.accountId, Types.STRING)
                .process(new Travel(rule)).name("impossible_travel")
                .map(new ToJson()).name("to-json")
                .sinkTo(new LineSink(output)).name("alerts");

        long t0 = System.nanoTime();
        JobExecutionResult r = env.execute("loginwatch impossible_travel peer");
        double wall = (System.nanoTime() - t0) / 1e9;
        double net = r.getNetRuntime() / 1e3;
        long lines = count(r, "lines");
        System.err.printf("flink: %d lines in %.2f s (%.0f events/s)%n", lines, net, lines / Math.max(net, 1e-9));
        System.err.printf("  accepted:  %d%n", count(r, "events"));
        System.err.printf("  rejected:  %d%n", count(r, "rejected"));
        System.err.printf("  not used:  %d (not a successful login %d, not located %d, late %d)%n",
                count(r, "not_login") + count(r, "not_located") + count(r, "late"),
                count(r, "not_login"), count(r, "not_located"), count(r, "late"));
        System.err.printf("  alerts:    %d (impossible_travel %d)%n", count(r, "alerts"), count(r, "alerts"));
        System.err.printf("  suppressed alerts: %d%n", count(r, "suppressed"));
        System.err.printf("  accounts:  %d%n", count(r, "accounts"));
        System.err.printf("  job: net runtime %.2f s, execute() %.2f s (MiniCluster start and stop included); "
                + "object reuse %s, parallelism 1, Flink %s%n", net, wall, reuse,
                org.apache.flink.runtime.util.EnvironmentInformation.getVersion());
    }

    private static long count(JobExecutionResult r, String name) {
        Object v = r.getAccumulatorResult(name);
        return v == null ? 0 : ((Number) v).longValue();
    }

    private static Map<String, String> parseArgs(String[] argv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!argv[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value, got " + argv[i]);
            }
            m.put(argv[i].substring(2), argv[i + 1]);
        }
        return m;
    }

    /** The rule's settings ([detect.impossible_travel] and the suppression cooldown). */
    public static final class Rule implements java.io.Serializable {
        final double maxSpeedKmh;
        final double minDistanceKm;
        final long cooldownMs;

        Rule(double maxSpeedKmh, double minDistanceKm, long cooldownMs) {
            this.maxSpeedKmh = maxSpeedKmh;
            this.minDistanceKm = minDistanceKm;
            this.cooldownMs = cooldownMs;
        }
    }

    // ---- input -------------------------------------------------------------------------------

    /** One input line as Jackson reads it (CONTRACT §1; unknown fields ignored). */
    public static final class Raw {
        public String accountId;
        public String ip;
        public String timestamp;
        public String eventId;
        public String eventType;
        public String outcome;
        public Geo geo;
    }

    /** The `geo` hint. */
    public static final class Geo {
        public Double lat;
        public Double lon;
        public String country;
        public String city;
        public Double accuracyKm;
        public Boolean proxy;
    }

    /** A located successful login, what crosses the keyBy (a Flink POJO). */
    public static final class Login {
        public String accountId;
        public String ip;
        public String eventId;
        public long timeMs;
        public double lat;
        public double lon;
        public int accuracyKm;
        public String country;
        public String city;
        public boolean anonymized;

        public Login() {}
    }

    static ObjectMapper mapper() {
        return new ObjectMapper()
                .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    }

    /** JSON line -> Login; bad lines are counted (`rejected`) and dropped. */
    public static final class Parse extends RichFlatMapFunction<String, Login> {
        private transient ObjectReader reader;
        private final LongCounter lines = new LongCounter();
        private final LongCounter events = new LongCounter();
        private final LongCounter rejected = new LongCounter();
        private final LongCounter notLogin = new LongCounter();
        private final LongCounter notLocated = new LongCounter();

        @Override
        public void open(OpenContext ctx) {
            reader = mapper().readerFor(Raw.class);
            getRuntimeContext().addAccumulator("lines", lines);
            getRuntimeContext().addAccumulator("events", events);
            getRuntimeContext().addAccumulator("rejected", rejected);
            getRuntimeContext().addAccumulator("not_login", notLogin);
            getRuntimeContext().addAccumulator("not_located", notLocated);
        }

        @Override
        public void flatMap(String line, Collector<Login> out) {
            lines.add(1L);
            if (line.isBlank()) {
                return;
            }
            Raw raw;
            long time;
            try {
                raw = reader.readValue(line);
                if (raw.accountId == null || raw.accountId.isEmpty() || raw.ip == null || raw.timestamp == null) {
                    rejected.add(1L);
                    return;
                }
                time = Instant.parse(raw.timestamp).toEpochMilli();
            } catch (Exception e) {
                rejected.add(1L);
                return;
            }
            events.add(1L);
            boolean login = raw.eventType == null || raw.eventType.equals("login");
            boolean success = raw.outcome == null || raw.outcome.equals("success");
            if (!login || !success) {
                notLogin.add(1L);
                return;
            }
            Geo g = raw.geo;
            if (g == null || g.lat == null || g.lon == null) {
                notLocated.add(1L);
                return;
            }
            Login l = new Login();
            l.accountId = raw.accountId;
            l.ip = raw.ip;
            l.eventId = raw.eventId != null ? raw.eventId : derivedId(line);
            l.timeMs = time;
            // loginwatch keeps positions as f32 and accuracy as whole km rounded up.
            l.lat = (float) g.lat.doubleValue();
            l.lon = (float) g.lon.doubleValue();
            l.accuracyKm = g.accuracyKm == null ? 0 : (int) Math.ceil(g.accuracyKm);
            l.country = g.country;
            l.city = g.city;
            l.anonymized = g.proxy != null && g.proxy;
            out.collect(l);
        }

        private static String derivedId(String line) {
            return "ev-" + Hashing.murmur3_128().hashString(line, StandardCharsets.UTF_8);
        }
    }

    // ---- the rule ----------------------------------------------------------------------------

    /** The account's baseline login and its cooldown for the kind (keyed state, one per account). */
    public static final class Last {
        public String ip;
        public String eventId;
        public long timeMs;
        public double lat;
        public double lon;
        public int accuracyKm;
        public String country;
        public String city;
        public boolean anonymized;
        /** Newest login time seen (baseline or not): older ones are late. */
        public long newestMs;
        public boolean hasBaseline;
        /** Cooldown: when the last alert was, its speed, the countries alerted (none: 0). */
        public long coolLastMs;
        public float coolSpeed;
        public List<String> coolCountries;

        public Last() {}

        void set(Login l) {
            ip = l.ip;
            eventId = l.eventId;
            timeMs = l.timeMs;
            lat = l.lat;
            lon = l.lon;
            accuracyKm = l.accuracyKm;
            country = l.country;
            city = l.city;
            anonymized = l.anonymized;
            hasBaseline = true;
        }
    }

    /** An alert as loginwatch writes it (schema loginwatch.alert.v1), impossible_travel only. */
    public static final class Alert {
        public String schema = "loginwatch.alert.v1";
        public String alertId;
        public String kind = "impossible_travel";
        public String severity;
        public String accountId;
        public String eventTime;
        public String detectedAt;
        public String summary;
        public List<String> eventIds;
        public Evidence evidence;
    }

    public static final class Evidence {
        public double distanceKm;
        public double rawDistanceKm;
        public Double speedKmh;
        public double elapsedS;
        public boolean simultaneous;
        public boolean anonymized;
        public double maxSpeedKmh;
        public double minDistanceKm;
        public Point from;
        public Point to;
    }

    public static final class Point {
        public String eventId;
        public String ip;
        public String timestamp;
        public double lat;
        public double lon;
        public int accuracyKm;
        public String country;
        public String city;
        public Long asn;
        public List<String> anonymizer;
    }

    static final double EARTH_RADIUS_KM = 6371.0088;
    static final String[] SEVERITY = {"low", "medium", "high", "critical"};
    /** Severity index by distance row (< 500, < 2,000, more km) and speed column (<= 2x, <= 5x, more). */
    static final int[][] SEVERITY_TABLE = {{0, 0, 1}, {0, 1, 2}, {1, 2, 3}};

    public static final class Travel extends KeyedProcessFunction<String, Login, Alert> {
        private final Rule rule;
        private transient ValueState<Last> state;
        private final LongCounter alerts = new LongCounter();
        private final LongCounter suppressed = new LongCounter();
        private final LongCounter late = new LongCounter();
        private final LongCounter accounts = new LongCounter();

        Travel(Rule rule) {
            this.rule = rule;
        }

        @Override
        public void open(OpenContext ctx) {
            state = getRuntimeContext().getState(new ValueStateDescriptor<>("last", Last.class));
            getRuntimeContext().addAccumulator("alerts", alerts);
            getRuntimeContext().addAccumulator("suppressed", suppressed);
            getRuntimeContext().addAccumulator("late", late);
            getRuntimeContext().addAccumulator("accounts", accounts);
        }

        @Override
        public void processElement(Login cur, Context ctx, Collector<Alert> out) throws Exception {
            Last last = state.value();
            if (last == null) {
                last = new Last();
                last.newestMs = Long.MIN_VALUE;
                accounts.add(1L);
            }
            if (cur.timeMs < last.newestMs) {
                late.add(1L);
                return;
            }
            last.newestMs = cur.timeMs;
            if (last.hasBaseline) {
                Alert a = check(ctx.getCurrentKey(), last, cur);
                if (a != null) {
                    out.collect(a);
                }
            }
            if (!cur.anonymized) {
                last.set(cur);
            }
            state.update(last);
        }

        /** The alert for the hop from `a` to `b`, or null (no hop, or suppressed). */
        private Alert check(String account, Last a, Login b) {
            if (sameHost(a.ip, b.ip)) {
                return null;
            }
            double raw = haversineKm(a.lat, a.lon, b.lat, b.lon);
            double distance = Math.max(raw - (a.accuracyKm + b.accuracyKm), 0.0);
            if (distance <= 0.0 || distance < rule.minDistanceKm) {
                return null;
            }
            long elapsedMs = Math.max(b.timeMs - a.timeMs, 0);
            double speed = elapsedMs == 0 ? Double.POSITIVE_INFINITY : distance / (elapsedMs / 3_600_000.0);
            if (!(speed > rule.maxSpeedKmh)) {
                return null;
            }
            if (!admit(a, b, (float) speed)) {
                suppressed.add(1L);
                return null;
            }
            alerts.add(1L);
            return alert(account, a, b, raw, distance, speed, elapsedMs);
        }

        /** loginwatch's cooldown (suppress.rs `admit`) for this one kind. */
        private boolean admit(Last s, Login b, float speed) {
            List<String> keys = new ArrayList<>(2);
            if (s.country != null) keys.add(s.country);
            if (b.country != null && !keys.contains(b.country)) keys.add(b.country);
            boolean active = s.coolCountries != null && Math.abs(b.timeMs - s.coolLastMs) < rule.cooldownMs;
            if (!active) {
                s.coolLastMs = b.timeMs;
                s.coolSpeed = speed;
                s.coolCountries = new ArrayList<>(keys);
                return true;
            }
            boolean newKey = false;
            for (String k : keys) {
                newKey |= !s.coolCountries.contains(k);
            }
            if (!newKey && !(speed > s.coolSpeed * 1.25f)) {
                return false;
            }
            s.coolLastMs = Math.max(s.coolLastMs, b.timeMs);
            s.coolSpeed = Math.max(s.coolSpeed, speed);
            for (String k : keys) {
                if (!s.coolCountries.contains(k)) {
                    if (s.coolCountries.size() == 6) s.coolCountries.remove(0);
                    s.coolCountries.add(k);
                }
            }
            return true;
        }

        private Alert alert(String account, Last a, Login b, double raw, double distance, double speed, long elapsedMs) {
            boolean anonymized = a.anonymized || b.anonymized;
            boolean simultaneous = elapsedMs == 0;
            String when = simultaneous ? "at the same time" : humanMs(elapsedMs) + " later";
            String how = simultaneous
                    ? human(distance) + " km apart"
                    : human(distance) + " km at " + human(speed) + " km/h";
            StringBuilder summary = new StringBuilder(128)
                    .append(account).append(" logged in from ").append(place(a.city, a.country, a.ip))
                    .append(" then ").append(place(b.city, b.country, b.ip)).append(' ').append(when)
                    .append(": ").append(how);
            if (anonymized) {
                summary.append(" (through an anonymizer: proxy)");
            }
            Alert al = new Alert();
            al.eventIds = Arrays.asList(a.eventId, b.eventId);
            al.alertId = alertId(account, al.eventIds);
            al.severity = severity(distance, speed, anonymized);
            al.accountId = account;
            al.eventTime = Instant.ofEpochMilli(b.timeMs).toString();
            al.detectedAt = al.eventTime;
            al.summary = summary.toString();
            Evidence e = new Evidence();
            e.distanceKm = round1(distance);
            e.rawDistanceKm = round1(raw);
            e.speedKmh = Double.isFinite(speed) ? round1(speed) : null;
            e.elapsedS = elapsedMs / 1000.0;
            e.simultaneous = simultaneous;
            e.anonymized = anonymized;
            e.maxSpeedKmh = rule.maxSpeedKmh;
            e.minDistanceKm = rule.minDistanceKm;
            e.from = point(a.eventId, a.ip, a.timeMs, a.lat, a.lon, a.accuracyKm, a.country, a.city, a.anonymized);
            e.to = point(b.eventId, b.ip, b.timeMs, b.lat, b.lon, b.accuracyKm, b.country, b.city, b.anonymized);
            al.evidence = e;
            return al;
        }

        private String severity(double distance, double speed, boolean anonymized) {
            double fast = speed / rule.maxSpeedKmh;
            int col = (fast > 2.0 ? 1 : 0) + (fast > 5.0 ? 1 : 0);
            int row = (distance >= 500.0 ? 1 : 0) + (distance >= 2000.0 ? 1 : 0);
            int s = SEVERITY_TABLE[row][col];
            if (anonymized && s > 0) s -= 1;
            return SEVERITY[s];
        }
    }

    static Point point(String id, String ip, long timeMs, double lat, double lon, int acc,
                       String country, String city, boolean anonymized) {
        Point p = new Point();
        p.eventId = id;
        p.ip = ip;
        p.timestamp = Instant.ofEpochMilli(timeMs).toString();
        p.lat = Math.round(lat * 10_000.0) / 10_000.0;
        p.lon = Math.round(lon * 10_000.0) / 10_000.0;
        p.accuracyKm = acc;
        p.country = country;
        p.city = city;
        p.anonymizer = anonymized ? List.of("proxy") : List.of();
        return p;
    }

    /** "Seoul, KR", "KR" or the address. */
    static String place(String city, String country, String ip) {
        if (city != null && country != null) return city + ", " + country;
        if (city != null) return city;
        if (country != null) return country;
        return ip;
    }

    /** Same host: equal IPv4 addresses, or IPv6 addresses in one /64. */
    static boolean sameHost(String a, String b) {
        if (a.equals(b)) return true;
        if (a.indexOf(':') < 0 || b.indexOf(':') < 0) return false;
        try {
            byte[] x = InetAddress.getByName(a).getAddress();
            byte[] y = InetAddress.getByName(b).getAddress();
            return x.length == 16 && y.length == 16 && Arrays.equals(x, 0, 8, y, 0, 8);
        } catch (IOException e) {
            return false;
        }
    }

    static double haversineKm(double lat1, double lon1, double lat2, double lon2) {
        double p1 = Math.toRadians(lat1), p2 = Math.toRadians(lat2);
        double dp = p2 - p1;
        double dl = Math.toRadians(lon2 - lon1);
        double s1 = Math.sin(dp / 2.0), s2 = Math.sin(dl / 2.0);
        double h = s1 * s1 + Math.cos(p1) * Math.cos(p2) * s2 * s2;
        return 2.0 * EARTH_RADIUS_KM * Math.asin(Math.min(Math.sqrt(h), 1.0));
    }

    static double round1(double x) {
        return Math.round(x * 10.0) / 10.0;
    }

    /** loginwatch's `human`: 3 significant digits with thousands separators above 100. */
    static String human(double x) {
        if (!Double.isFinite(x)) return "\u221e";
        if (Math.abs(x) < 100.0) {
            String s = String.format("%.1f", x);
            return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
        }
        int digits = (int) Math.floor(Math.log10(Math.abs(x)));
        double unit = Math.pow(10, digits - 2);
        long rounded = (long) (Math.round(x / unit) * unit);
        String s = Long.toString(Math.abs(rounded));
        StringBuilder out = new StringBuilder(s.length() + 4);
        if (rounded < 0) out.append('-');
        for (int i = 0; i < s.length(); i++) {
            if (i > 0 && (s.length() - i) % 3 == 0) out.append(',');
            out.append(s.charAt(i));
        }
        return out.toString();
    }

    /** loginwatch's `human_ms`: "5 s", "12 min", "3 h 5 min", "2 d 4 h". */
    static String humanMs(long ms) {
        long s = ms / 1000;
        if (s < 60) return s + " s";
        if (s < 3600) return (s / 60) + " min";
        if (s < 86_400) return (s / 3600) + " h " + (s % 3600 / 60) + " min";
        return (s / 86_400) + " d " + (s % 86_400 / 3600) + " h";
    }

    /** A 128-bit hash of kind, account and event ids (loginwatch uses xxh3-128; Murmur3 here). */
    static String alertId(String account, List<String> eventIds) {
        Hasher h = Hashing.murmur3_128().newHasher();
        h.putString("impossible_travel", StandardCharsets.UTF_8).putByte((byte) 0);
        h.putString(account, StandardCharsets.UTF_8);
        for (String id : eventIds) {
            h.putByte((byte) 0).putString(id, StandardCharsets.UTF_8);
        }
        return "al-" + h.hash();
    }

    // ---- output ------------------------------------------------------------------------------

    /** Alert -> its JSON (UTF-8 bytes; the sink ends the line). */
    public static final class ToJson extends RichMapFunction<Alert, byte[]> {
        private transient ObjectWriter writer;

        @Override
        public void open(OpenContext ctx) {
            writer = mapper().writerFor(Alert.class);
        }

        @Override
        public byte[] map(Alert a) throws Exception {
            return writer.writeValueAsBytes(a);
        }
    }

    /** Writes each record's bytes and a newline to a file (default /dev/null) through a 1 MiB buffer. */
    public static final class LineSink implements Sink<byte[]> {
        private final String path;

        LineSink(String path) {
            this.path = path;
        }

        @Override
        public SinkWriter<byte[]> createWriter(WriterInitContext context) throws IOException {
            OutputStream os = new BufferedOutputStream(new FileOutputStream(path), 1 << 20);
            return new SinkWriter<>() {
                @Override
                public void write(byte[] line, Context ctx) throws IOException {
                    os.write(line);
                    os.write('\n');
                }

                @Override
                public void flush(boolean endOfInput) throws IOException {
                    os.flush();
                }

                @Override
                public void close() throws IOException {
                    os.close();
                }
            };
        }
    }
}
