// Credits: the organization's usage credits (GET /credits): the balance split into included
// credits (reset to the plan's allowance on the billing day) and purchased ones (carried
// over), when the next reset is, and the ledger, newest first, paged back with `before`.
// Admins record a purchase or a grant and set the plan; members read.

import { h, mount, badge, when, num, action, toast, fill, keysetPager } from "../ui.js";

const PAGE = 20;

export async function render(ctx) {
  const balanceCard = h("div", { class: "card", id: "credits-balance" }, h("p", { class: "muted" }, "Loading…"));
  const pager = keysetPager("ledger", async (before) => {
    const answer = await ctx.api.get("/credits", { limit: PAGE, before });
    fill(balanceCard, balanceView(answer.balance));
    if (planForm) planForm.fillFrom(answer.balance);
    return { content: ledgerTable(answer.ledger), next: answer.next_before };
  }, { prev: "Newer", next: "Older" });
  const refresh = () => pager.reload();
  const planForm = ctx.isAdmin ? plan(ctx, refresh) : null;
  mount(
    h("h1", {}, "Credits"),
    h("div", { class: "split" }, balanceCard,
      ctx.isAdmin
        ? h("div", {}, grant(ctx, refresh), planForm.el)
        : h("div", { class: "card", id: "credits-read-only" }, h("h2", {}, "Read-only"),
          h("p", { class: "muted" }, "Features spend credits as they are used. An admin records purchases and grants and sets the plan."))),
    h("div", { class: "card" }, h("h2", {}, "Ledger"), pager.el),
  );
  await pager.reload();
}

function balanceView(b) {
  const share = b.total ? Math.round((100 * b.included) / b.total) : 0;
  return [
    h("h2", {}, "Balance"),
    h("div", { class: "big", id: "credits-total" }, num(b.total)),
    h("div", { class: "progress split-bar", title: "included | purchased" }, h("div", { style: `width: ${share}%` })),
    h("div", { class: "kv" },
      h("div", {}, "Included"), h("div", {}, h("b", { id: "credits-included" }, num(b.included)),
        h("span", { class: "muted small" }, ` of ${num(b.included_per_period)} this period; spent first, reset on the billing day`)),
      h("div", {}, "Purchased"), h("div", {}, h("b", { id: "credits-purchased" }, num(b.purchased)),
        h("span", { class: "muted small" }, " carried over from period to period")),
      h("div", {}, "Billing day"), h("div", { id: "credits-billing-day" }, `day ${b.billing_day} of the month`),
      h("div", {}, "This period"), h("div", {}, b.period_start || "not started (no plan yet)"),
      h("div", {}, "Next reset"), h("div", { id: "credits-next-reset" }, b.next_reset || "—")),
  ];
}

function ledgerTable(entries) {
  if (!entries.length) return h("p", { class: "muted", id: "ledger-empty" }, "No entry yet.");
  const signed = (n) => (n > 0 ? `+${num(n)}` : n < 0 ? `−${num(-n)}` : "0");
  return h("table", { id: "ledger-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "What"),
      ["Included", "Purchased", "Balance after"].map((t) => h("th", { class: "num" }, t)), h("th", {}, "By"), h("th", {}, "Reason"))),
    h("tbody", {}, entries.map((e) => h("tr", { dataset: { entry: e.id, kind: e.kind } },
      h("td", {}, when(e.at)), h("td", {}, badge(e.kind)),
      h("td", { class: "num" }, signed(e.delta_included)), h("td", { class: "num" }, signed(e.delta_purchased)),
      h("td", { class: "num ledger-after" }, num(e.included_after + e.purchased_after)),
      h("td", {}, e.by || "—"), h("td", { class: "wrap" }, e.reason || "")))));
}

function grant(ctx, refresh) {
  const kind = h("select", { id: "grant-kind" },
    h("option", { value: "purchase" }, "Purchase (carries over)"),
    h("option", { value: "grant" }, "Grant (included, this period only)"));
  const amount = h("input", { id: "grant-amount", type: "number", min: "1", step: "1", required: true });
  const reason = h("input", { id: "grant-reason", maxlength: "200", placeholder: "invoice, goodwill…" });
  return h("form", { class: "card admin-action", id: "grant-form", onsubmit: (e) => e.preventDefault() },
    h("h2", {}, "Add credits"),
    h("div", { class: "form" }, h("label", {}, "Kind", kind), h("label", {}, "Amount", amount), h("label", {}, "Reason", reason)),
    h("div", { class: "row" }, action("Add", async () => {
      const entry = await ctx.api.post("/credits/grant", {
        kind: kind.value, amount: Number(amount.value), reason: reason.value.trim() || undefined,
      });
      toast(`${num(entry.delta_included + entry.delta_purchased)} credits added.`);
      amount.value = "";
      reason.value = "";
      await refresh();
    }, { class: "primary", id: "grant-save" })));
}

function plan(ctx, refresh) {
  const perPeriod = h("input", { id: "plan-included", type: "number", min: "0", step: "1" });
  const day = h("input", { id: "plan-billing-day", type: "number", min: "1", max: "31", step: "1" });
  const el = h("form", { class: "card admin-action", id: "plan-form", onsubmit: (e) => e.preventDefault() },
    h("h2", {}, "Plan"),
    h("div", { class: "form" }, h("label", {}, "Included credits per period", perPeriod),
      h("label", {}, "Billing day (1–31; clamped to the month's end)", day)),
    h("p", { class: "muted small" }, "The first plan starts a period today with the full allowance; a later change applies from the next reset."),
    h("div", { class: "row" }, action("Save plan", async () => {
      await ctx.api.put("/credits/plan", { included_per_period: Number(perPeriod.value), billing_day: Number(day.value) });
      toast("Plan saved.");
      await refresh();
    }, { id: "plan-save" })));
  return { el, fillFrom: (b) => { perPeriod.value = b.included_per_period; day.value = b.billing_day; } };
}
