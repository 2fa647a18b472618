// The order page's card payment with Stripe.js (only when the provider is "stripe").
//
// The card is typed into Stripe's own field (the Card Element), so it never reaches our server:
// Stripe.js turns it into a PaymentMethod, whose id we send to POST /api/payments with the
// buyer's cookie. When the answer is "pending" with a clientSecret, the card asks for 3-D Secure:
// Stripe.js runs it (confirmCardPayment) and Stripe's webhook settles the order. Either way the
// page then polls the order until it is complete, cancelled or its hold has run out, and reloads
// so the server shows which. Refusals appear next to the card field.
(function () {
  "use strict";
  var form = document.querySelector("[data-stripe-pay]");
  if (!form) {
    return;
  }
  var errorBox = form.querySelector("[data-card-error]");
  var statusBox = form.querySelector("[data-pay-status]");
  var button = form.querySelector("[data-pay-button]");

  function showError(message) {
    errorBox.textContent = "";
    if (message) {
      var line = document.createElement("p");
      line.textContent = message;
      errorBox.appendChild(line);
    }
  }

  function say(message) {
    statusBox.textContent = message;
  }

  if (typeof window.Stripe !== "function") {
    showError("The card field could not be loaded. Check your connection and reload the page.");
    button.disabled = true;
    return;
  }

  var stripe = window.Stripe(form.getAttribute("data-publishable-key"));
  var card = stripe.elements().create("card");
  card.mount(form.querySelector("[data-card-element]"));
  var busy = false;
  var attempts = 0;

  function finished() {
    busy = false;
    button.disabled = false;
  }

  function messagesOf(body) {
    if (body && body.errors && body.errors.length) {
      return body.errors
        .map(function (error) {
          return error.message;
        })
        .join(" ");
    }
    return "The payment could not be made. Try again.";
  }

  // Poll the order until the payment is settled (or the hold ends), then let the server show it.
  function watch() {
    say("Waiting for the payment to be confirmed\u2026");
    var url = form.getAttribute("data-order-url");
    function look() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json();
        })
        .then(function (order) {
          var over = new Date(order.expiresAt).getTime() <= Date.now();
          if (order.status === "complete" || order.status === "cancelled" || over) {
            window.location.reload();
          } else if (order.status === "created") {
            // The provider reported a failure (a failed 3-D Secure): the buyer may try again.
            say("");
            finished();
          } else {
            window.setTimeout(look, 1000);
          }
        })
        .catch(function () {
          window.setTimeout(look, 2000);
        });
    }
    look();
  }

  function pay(paymentMethod) {
    attempts += 1;
    return fetch(form.getAttribute("data-pay-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        // One key per attempt of this rendered form: a repeated request pays once.
        "Idempotency-Key": form.getAttribute("data-attempt-key") + ":" + attempts,
      },
      body: JSON.stringify({ orderId: form.getAttribute("data-order-id"), token: paymentMethod.id }),
    }).then(function (response) {
      return response.json().then(function (body) {
        return { ok: response.ok, body: body };
      });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) {
      return;
    }
    busy = true;
    button.disabled = true;
    showError("");
    say("Paying\u2026");
    stripe
      .createPaymentMethod({ type: "card", card: card })
      .then(function (created) {
        if (created.error) {
          throw new Error(created.error.message);
        }
        return pay(created.paymentMethod);
      })
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error(messagesOf(answer.body));
        }
        if (answer.body.status !== "pending" || !answer.body.clientSecret) {
          return null;
        }
        say("Your bank asks you to confirm the payment\u2026");
        return stripe.confirmCardPayment(answer.body.clientSecret);
      })
      .then(function (confirmed) {
        if (confirmed && confirmed.error) {
          showError(confirmed.error.message);
        }
        watch();
      })
      .catch(function (error) {
        say("");
        showError(error.message);
        finished();
      });
  });
})();
