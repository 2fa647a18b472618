// A stand-in for Stripe.js v3, served by eventhive_core.testing.stripe_stand_in.StripeStandIn at /v3/.
//
// The real Stripe.js cannot load offline, so browser tests point EVENTHIVE_STRIPE_JS_URL here. It
// offers the part of Stripe.js that a card payment page uses, with the same shapes:
//   Stripe(publishableKey).elements().create("card") -> an element to mount(), with on("change");
//   stripe.createPaymentMethod({type: "card", card: element}) -> {paymentMethod} or {error};
//   stripe.confirmCardPayment(clientSecret) -> {paymentIntent} or {error}.
// The card element is a plain text field for the card number (expiry and CVC are fixed test
// values). 3-D Secure opens a dialog in the page with "Complete authentication" and "Fail
// authentication", as Stripe's test challenge does. Every call goes to the stand-in that served
// this file, with the publishable key.
(function () {
  "use strict";

  var script = document.currentScript;
  var apiBase = script ? new URL(script.src).origin : window.location.origin;

  function form(fields) {
    return Object.keys(fields)
      .map(function (name) {
        return encodeURIComponent(name) + "=" + encodeURIComponent(fields[name]);
      })
      .join("&");
  }

  function call(key, method, path, fields) {
    var init = { method: method, headers: { Authorization: "Bearer " + key } };
    var url = apiBase + path;
    if (method === "GET") {
      url += "?" + form(fields);
    } else {
      init.headers["Content-Type"] = "application/x-www-form-urlencoded";
      init.body = form(fields);
    }
    return fetch(url, init).then(function (response) {
      return response.json().then(function (body) {
        return response.ok ? { ok: body } : { error: body.error || { message: "Stripe stand-in error" } };
      });
    });
  }

  function CardElement() {
    this.input = null;
    this.handlers = {};
  }

  CardElement.prototype.mount = function (target) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    if (!host) {
      throw new Error("Stripe stand-in: nothing to mount the card element on");
    }
    var input = document.createElement("input");
    input.type = "text";
    input.inputMode = "numeric";
    input.autocomplete = "cc-number";
    input.name = "cardnumber";
    input.placeholder = "Card number";
    input.setAttribute("aria-label", "Card number");
    input.setAttribute("data-stripe-stand-in", "card-number");
    input.className = "stripe-stand-in-card";
    var element = this;
    input.addEventListener("input", function () {
      element.emit("change", { complete: input.value.replace(/\s/g, "").length >= 12, empty: !input.value });
    });
    host.appendChild(input);
    this.input = input;
  };

  CardElement.prototype.on = function (name, handler) {
    (this.handlers[name] = this.handlers[name] || []).push(handler);
  };

  CardElement.prototype.emit = function (name, event) {
    (this.handlers[name] || []).forEach(function (handler) {
      handler(event);
    });
  };

  CardElement.prototype.focus = function () {
    if (this.input) {
      this.input.focus();
    }
  };

  CardElement.prototype.unmount = function () {
    if (this.input && this.input.parentNode) {
      this.input.parentNode.removeChild(this.input);
    }
    this.input = null;
  };

  CardElement.prototype.destroy = CardElement.prototype.unmount;

  // The 3-D Secure challenge: a modal dialog the buyer answers.
  function challenge() {
    return new Promise(function (resolve) {
      var dialog = document.createElement("div");
      dialog.setAttribute("role", "dialog");
      dialog.setAttribute("aria-modal", "true");
      dialog.setAttribute("aria-labelledby", "stripe-stand-in-3ds-title");
      dialog.setAttribute("data-stripe-stand-in", "3ds");
      var panel = dialog.style;
      panel.position = "fixed";
      panel.inset = "0";
      panel.background = "rgba(0, 0, 0, 0.6)";
      panel.display = "flex";
      panel.alignItems = "center";
      panel.justifyContent = "center";
      var box = document.createElement("div");
      box.style.background = "#ffffff";
      box.style.color = "#111111";
      box.style.padding = "1.5rem";
      box.style.maxWidth = "22rem";
      var title = document.createElement("h2");
      title.id = "stripe-stand-in-3ds-title";
      title.textContent = "3D Secure test page";
      var text = document.createElement("p");
      text.textContent = "Your bank asks you to confirm this payment.";
      box.appendChild(title);
      box.appendChild(text);
      [
        ["Complete authentication", true],
        ["Fail authentication", false],
      ].forEach(function (choice) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = choice[0];
        button.style.margin = "0.25rem";
        button.addEventListener("click", function () {
          document.body.removeChild(dialog);
          resolve(choice[1]);
        });
        box.appendChild(button);
      });
      dialog.appendChild(box);
      document.body.appendChild(dialog);
      box.querySelector("button").focus();
    });
  }

  function Stripe(publishableKey) {
    if (!(this instanceof Stripe)) {
      return new Stripe(publishableKey);
    }
    if (!publishableKey) {
      throw new Error("Stripe stand-in: a publishable key is required");
    }
    this.key = publishableKey;
  }

  Stripe.prototype.elements = function () {
    return {
      create: function (type) {
        if (type !== "card") {
          throw new Error("Stripe stand-in: only the card element is offered");
        }
        return new CardElement();
      },
    };
  };

  Stripe.prototype.createPaymentMethod = function (options, element) {
    var card = element || (options && options.card);
    var number = card && card.input ? card.input.value.replace(/\s/g, "") : "";
    return call(this.key, "POST", "/v1/payment_methods", {
      type: "card",
      "card[number]": number,
      "card[exp_month]": "12",
      "card[exp_year]": String(new Date().getFullYear() + 3),
      "card[cvc]": "123",
    }).then(function (answer) {
      return answer.error ? { error: answer.error } : { paymentMethod: answer.ok };
    });
  };

  Stripe.prototype.confirmCardPayment = function (clientSecret) {
    var key = this.key;
    var id = String(clientSecret).split("_secret_")[0];
    var path = "/v1/payment_intents/" + encodeURIComponent(id);
    function settle(intent) {
      if (intent.status === "requires_payment_method" || intent.status === "canceled") {
        return { error: intent.last_payment_error || { message: "The payment was not completed." } };
      }
      return { paymentIntent: intent };
    }
    return call(key, "GET", path, { client_secret: clientSecret }).then(function (answer) {
      if (answer.error) {
        return { error: answer.error };
      }
      if (answer.ok.status !== "requires_action") {
        return settle(answer.ok);
      }
      return challenge().then(function (passed) {
        var fields = { client_secret: clientSecret, success: passed ? "true" : "false" };
        return call(key, "POST", path + "/_authenticate", fields).then(function (result) {
          return result.error ? { error: result.error } : settle(result.ok);
        });
      });
    });
  };

  window.Stripe = Stripe;
})();
