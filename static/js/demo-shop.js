// The demo shop (templates/demo_shop/shop.html): a one-page store routed with the history API and
// instrumented the way a customer would do it: beacon.init once, `data-track` attributes on what
// people click, and beacon.track / beacon.identify where the app knows what happened.
(function () {
  "use strict";

  var BASE = "/demo/shop";
  var CART_KEY = "trailhead:cart";
  var body = document.body;
  var main = document.getElementById("shop");
  var products = JSON.parse(document.getElementById("shop-products").textContent);
  var byId = {};
  products.forEach(function (product) { byId[product.id] = product; });

  beacon.init(body.dataset.beaconKey, {
    environment: body.dataset.beaconEnvironment,
    autocapture: true,
    captureErrors: true,
    webVitals: true,
  });

  // -- the cart, kept in localStorage ----------------------------------------------------------

  function cart() {
    try { return JSON.parse(localStorage.getItem(CART_KEY)) || {}; } catch (error) { return {}; }
  }

  function saveCart(items) {
    localStorage.setItem(CART_KEY, JSON.stringify(items));
    var count = Object.keys(items).reduce(function (sum, id) { return sum + items[id]; }, 0);
    document.getElementById("cart-count").textContent = String(count);
  }

  function cartLines() {
    var items = cart();
    return Object.keys(items).filter(function (id) { return byId[id]; }).map(function (id) {
      return { product: byId[id], quantity: items[id] };
    });
  }

  // -- small DOM helpers (no innerHTML: names and prices become text nodes) ----------------------

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function price(amount) { return "€" + amount.toFixed(2); }

  function addButton(product) {
    return el("button", {
      type: "button",
      "data-add": product.id,
      "data-track": "add_to_cart",
      "data-track-props": JSON.stringify({ product_id: product.id, price: product.price, quantity: 1 }),
    }, ["Add to cart"]);
  }

  function link(path, content, extra) {
    return el("a", Object.assign({ href: BASE + path, "data-route": "" }, extra || {}), [content]);
  }

  // -- pages -----------------------------------------------------------------------------------

  function listPage() {
    var list = el("ul", { class: "products" });
    products.forEach(function (product, index) {
      var props = { product_id: product.id, name: product.name, position: index + 1, list: "home" };
      list.appendChild(el("li", { class: "product" }, [
        link("/products/" + product.id, el("h3", {}, [product.name]), {
          "data-track": "product_click",
          "data-track-props": JSON.stringify(props),
        }),
        el("p", { class: "price" }, [price(product.price)]),
        addButton(product),
      ]));
    });
    return ["Products", [el("h1", {}, ["Gear for the trail"]), list]];
  }

  function productPage(id) {
    var product = byId[id];
    if (!product) return ["Not found", [el("h1", {}, ["No such product"]), link("/", "Back to the products")]];
    return [product.name, [
      el("h1", {}, [product.name]),
      el("p", { class: "price" }, [price(product.price)]),
      el("p", {}, ["Tested on the trail by our team. Free returns within 30 days."]),
      addButton(product),
      el("p", {}, [link("/", "← All products")]),
    ]];
  }

  function cartPage() {
    var lines = cartLines();
    if (!lines.length) return ["Cart", [el("h1", {}, ["Your cart is empty"]), link("/", "Find something")]];
    var total = 0;
    var rows = lines.map(function (line) {
      total += line.product.price * line.quantity;
      return el("tr", {}, [
        el("td", {}, [line.product.name]),
        el("td", {}, [String(line.quantity)]),
        el("td", {}, [price(line.product.price * line.quantity)]),
      ]);
    });
    return ["Cart", [
      el("h1", {}, ["Your cart"]),
      el("table", { class: "cart" }, [
        el("thead", {}, [el("tr", {}, [el("th", {}, ["Product"]), el("th", {}, ["Qty"]), el("th", {}, ["Price"])])]),
        el("tbody", {}, rows),
      ]),
      el("p", {}, ["Total: ", el("strong", {}, [price(total)])]),
      link("/checkout", "Check out", { class: "checkout-link" }),
    ]];
  }

  function checkoutPage() {
    var form = el("form", { class: "checkout" }, [
      el("label", {}, ["Email ", el("input", { type: "email", name: "email", required: "", autocomplete: "email" })]),
      el("label", {}, ["Name ", el("input", { type: "text", name: "name", autocomplete: "name" })]),
      el("button", { type: "submit" }, ["Place order"]),
    ]);
    form.addEventListener("submit", placeOrder);
    return ["Checkout", [el("h1", {}, ["Checkout"]), form]];
  }

  function placeOrder(submitted) {
    submitted.preventDefault();
    var form = submitted.target;
    var email = form.elements.email.value.trim().toLowerCase();
    var lines = cartLines();
    if (!email || !lines.length) return;
    var revenue = lines.reduce(function (sum, line) { return sum + line.product.price * line.quantity; }, 0);
    var orderId = "o-" + Date.now().toString(36);
    beacon.identify(email, { email: email, name: form.elements.name.value.trim() });
    beacon.track("purchase", {
      order_id: orderId,
      revenue: Math.round(revenue * 100) / 100,
      currency: "EUR",
      items: lines.map(function (line) { return { product_id: line.product.id, quantity: line.quantity }; }),
    });
    saveCart({});
    main.replaceChildren(el("div", { class: "thanks" }, [
      el("h1", {}, ["Thank you!"]),
      el("p", {}, ["Order " + orderId + " is on its way."]),
      link("/", "Keep shopping"),
    ]));
  }

  // -- routing ---------------------------------------------------------------------------------

  function render() {
    var route = location.pathname.slice(BASE.length).replace(/^\/+|\/+$/g, "");
    var page;
    if (route === "") page = listPage();
    else if (route.indexOf("products/") === 0) page = productPage(route.slice("products/".length));
    else if (route === "cart") page = cartPage();
    else if (route === "checkout") page = checkoutPage();
    else page = ["Not found", [el("h1", {}, ["Page not found"]), link("/", "Back to the shop")]];
    document.title = page[0] + " · Trailhead";
    main.replaceChildren.apply(main, page[1]);
    // The plan's own page view, once the route resolved (beacon.js also sends $pageview by itself).
    beacon.track("page_view", { path: location.pathname, title: document.title });
  }

  document.addEventListener("click", function (click) {
    var adding = click.target.closest("[data-add]");
    if (adding) {
      var items = cart();
      items[adding.dataset.add] = (items[adding.dataset.add] || 0) + 1;
      saveCart(items);
      return;
    }
    var routed = click.target.closest("a[data-route]");
    if (!routed || click.metaKey || click.ctrlKey || click.shiftKey) return;
    click.preventDefault();
    if (routed.pathname !== location.pathname) history.pushState({}, "", routed.pathname);
    render();
  });
  window.addEventListener("popstate", render);

  saveCart(cart());
  render();
})();
