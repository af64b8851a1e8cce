// The sample order service served by examples/orders and `rpcbridge demo`.
namespace go order

typedef i64 OrderID

enum Status {
  PENDING = 1,
  PAID = 2,
  SHIPPED = 3,
  CANCELLED = 4,
}

struct Item {
  1: required string sku,
  2: required i32 qty,
  3: i64 priceCents,
}

struct Order {
  1: OrderID id,
  2: string customer,
  3: list<Item> items,
  4: Status status = Status.PENDING,
  5: i64 totalCents,
  6: optional string note,
}

exception OrderNotFound {
  1: OrderID id,
  2: string message,
}

exception InvalidOrder {
  1: string field,
  2: string message,
}

service OrderService {
  Order getOrder(1: OrderID id) throws (1: OrderNotFound notFound),
  Order createOrder(1: string customer, 2: list<Item> items, 3: string note) throws (1: InvalidOrder invalid),
  list<Order> listOrders(1: Status status, 2: i32 limit),
  Order setStatus(1: OrderID id, 2: Status status) throws (1: OrderNotFound notFound),
  void ping(),
  oneway void audit(1: string event),
}
