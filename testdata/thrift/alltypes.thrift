// Every Thrift type the gateway maps to JSON, used by the adapter's tests.
include "common.thrift"

namespace go alltypes

// A typedef of a typedef that lives in another file.
typedef common.OrderID ID

union Choice {
  1: string s,
  2: i64 n,
  3: common.Point p,
}

struct Inner {
  1: i32 a,
  2: optional string b,
}

struct All {
  1: bool b,
  2: byte by,
  3: i8 i8v,
  4: i16 i16v,
  5: i32 i32v,
  6: i64 i64v,
  7: double d,
  8: string s,
  9: binary bin,
  10: common.Color color,
  11: common.Point point,
  12: Choice choice,
  13: list<i32> li,
  14: set<string> ss,
  15: map<string, i64> msl,
  16: map<i32, string> mis,
  17: map<i64, common.Point> mlp,
  18: map<common.Color, list<set<i16>>> nested,
  19: list<map<string, Inner>> lmi,
  20: ID id,
  21: common.Tags tags,
  22: map<bool, double> mbd,
  23: map<double, string> mds,
  24: optional i32 opt,
  25: i32 withDefault = 42,
  26: optional string optDefault = "dflt",
  27: common.Colour colour = common.Color.GREEN,
  28: list<common.Point> points,
  29: common.Name name,
}

struct Req {
  1: required string name,
  2: required i32 qty,
  3: optional string note,
}

exception Boom {
  1: string why,
  2: i32 code,
  3: list<string> details,
}

service Base {
  string ping(1: string msg),
}

service AllTypes extends Base {
  All echo(1: All a),
  i64 add(1: i64 a, 2: i32 b, 3: i16 c, 4: byte d),
  common.Point makePoint(1: i32 x, 2: i32 y),
  Req echoReq(1: Req r),
  Choice echoChoice(1: Choice c),
  void doNothing(),
  oneway void fire(1: string event),
  string fail(1: string kind, 2: i32 code) throws (1: Boom boom, 2: common.NotFound nf),
  string slow(1: i32 ms),
  string structKeys(1: map<common.Point, string> m),
  list<ID> ids(1: common.Tags tags),
  binary echoBinary(1: binary b),
  double echoDouble(1: double d),
  common.Colour echoColor(1: common.Color c),
  map<i64, string> echoMap(1: map<i64, string> m),
  // Declared but not served by the test server: the server answers UNKNOWN_METHOD.
  string notServed(),
}
