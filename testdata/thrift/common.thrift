// Shared types for alltypes.thrift: typedefs, an enum, a struct and an
// exception that another file uses through include.
namespace go common

typedef i64 OrderID
typedef string Name
typedef list<string> Tags

enum Color {
  RED = 1,
  GREEN = 2,
  BLUE = 5,
}

typedef Color Colour

struct Point {
  1: required i32 x,
  2: required i32 y,
}

exception NotFound {
  1: string message,
  2: OrderID id,
}
