// Listings exist only after this script ran: fetch the page's JSON, then build the cards and the pager.
(function () {
  "use strict";
  var page = location.pathname.replace(/^\/(page\/)?/, "") || "1";  // "/page/3" -> "3", "/chatty" -> "chatty"

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function card(listing) {
    var article = element("article", "listing");
    article.id = "listing-" + listing.id;
    article.appendChild(element("h2", "title", listing.title));
    article.appendChild(element("p", "text", listing.text));
    article.appendChild(element("p", "price", listing.price));
    article.appendChild(element("p", "seller", "Seller: " + listing.seller));
    return article;
  }

  fetch("/api/listings?page=" + encodeURIComponent(page), { headers: { "Accept": "application/json" } })
    .then(function (response) { return response.json(); })
    .then(function (data) {
      var main = document.getElementById("listings");
      data.listings.forEach(function (listing) { main.appendChild(card(listing)); });
      main.setAttribute("aria-busy", "false");
      var pager = document.getElementById("pager");
      if (data.next) {
        var next = element("a", "next", "Next page");
        next.href = data.next;
        pager.appendChild(next);
      }
      if (data.poll) {  // a page that keeps talking to its server: never network-idle
        setInterval(function () { fetch("/api/ping"); }, 200);
      }
      if (data.hang) {  // a page whose script never yields once it has rendered
        setTimeout(function () { for (;;) {} }, 50);
      }
    });
})();
