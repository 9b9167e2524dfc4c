import { APIRequestContext, expect, Page, test } from '@playwright/test';
import { createProduct, productJson, signIn, waitForLive } from './helpers';

const PASSWORD = 'shopper-password';

/** Signs a new customer up through the JSON API (which also signs `request`
 *  in as them); returns their email and customer id. */
async function newCustomer(request: APIRequestContext, name: string) {
  const email = `${name.toLowerCase().replace(/\W+/g, '-')}-${Date.now()}@e2e.example`;
  const response = await request.post('/api/auth/signup', {
    data: { name, email, password: PASSWORD },
  });
  expect(response.status()).toBe(201);
  const { accountId } = await response.json();
  return { email, id: accountId as string };
}

/** Adds `quantity` of the product from its page, with the page's form. */
async function addToCart(page: Page, productId: string, quantity: number) {
  await page.goto(`/products/${productId}`);
  await waitForLive(page);
  const form = page.getByTestId('add-to-cart');
  await form.getByLabel('Quantity').fill(String(quantity));
  await form.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByTestId('add-to-cart-status')).toContainText('Added to your cart');
}

/** Holds a server function's answer back, as a slow network would. */
async function delay(page: Page, serverFn: string, ms: number) {
  await page.route(`**/rpc/${serverFn}*`, async (route) => {
    const response = await route.fetch();
    await new Promise((r) => setTimeout(r, ms));
    await route.fulfill({ response });
  });
}

type Watched = { __sameDocument?: boolean; __statuses?: string[] };

/** From now on, records every status the order page shows, in this document. */
async function watchOrderStatus(page: Page) {
  await page.evaluate(() => {
    const w = window as unknown as Watched;
    w.__sameDocument = true;
    w.__statuses = [];
    const record = () => {
      const status = document.querySelector('[data-testid=order-status]')?.getAttribute('data-status');
      const seen = w.__statuses!;
      if (status && seen[seen.length - 1] !== status) seen.push(status);
    };
    new MutationObserver(record).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-status'],
    });
  });
}

async function watched(page: Page): Promise<Watched> {
  return page.evaluate(() => {
    const w = window as unknown as Watched;
    return { __sameDocument: w.__sameDocument, __statuses: w.__statuses };
  });
}

const LIFECYCLE = ['awaitingPayment', 'paid', 'confirmed', 'shipped', 'delivered'];

test('a shopper searches, filters, fills a cart, signs in at checkout, pays, and watches the order move without reloading', async ({
  page,
  request,
}) => {
  const productId = await createProduct(request, 'E2E checkout lamp', 12.5);

  // Search from the home page, narrow by category, open the product.
  await page.goto('/');
  await waitForLive(page);
  await page.getByRole('searchbox', { name: 'Search the shop' }).fill('checkout lamp');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/\/search\?q=checkout\+lamp/);
  await page.getByTestId('facets').getByRole('link', { name: /^E2E/ }).click();
  await expect(page).toHaveURL(/category=E2E/);
  await expect(page.getByTestId('result-count')).toHaveText('1 product');
  await page.getByTestId('catalog').getByRole('link', { name: /E2E checkout lamp/ }).click();
  await expect(page).toHaveURL(new RegExp(`/products/${productId}$`));
  await waitForLive(page);

  // Shopping needs no account: the cart is a cookie.
  const form = page.getByTestId('add-to-cart');
  await form.getByLabel('Quantity').fill('1');
  await form.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByTestId('add-to-cart-status')).toContainText('Added to your cart');
  await expect(page.getByTestId('cart-link')).toHaveText('Cart (1)');
  await page.reload();
  await expect(page.getByTestId('cart-link')).toHaveText('Cart (1)');

  await page.getByTestId('cart-link').click();
  await expect(page).toHaveURL(/\/cart$/);
  await waitForLive(page);
  const line = page.getByTestId('cart-line');
  await expect(line).toContainText('E2E checkout lamp');
  await expect(line).toContainText('12.50 each');
  await expect(page.getByTestId('cart-total')).toHaveText('12.50');
  await line.getByLabel('Quantity').fill('2');
  await line.getByRole('button', { name: 'Update' }).click();
  await expect(page.getByTestId('cart-total')).toHaveText('25.00');
  await expect(page.getByTestId('cart-link')).toHaveText('Cart (2)');
  await expect(page.getByTestId('stock-warning')).toHaveCount(0);

  // Checkout sends an anonymous shopper to sign in, and back.
  const customer = await newCustomer(request, 'E2E Buyer');
  await page.getByTestId('checkout-link').click();
  await expect(page).toHaveURL(/\/login\?next=\/checkout$/);
  await page.getByLabel('Email').fill(customer.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/checkout$/);
  await expect(page.getByTestId('checkout-line')).toContainText('E2E checkout lamp');
  await expect(page.getByTestId('checkout-total')).toHaveText('25.00');
  await waitForLive(page);
  await watchOrderStatus(page);

  // A slow answer from the server: "processing" must not wait for it.
  await delay(page, 'checkout', 1000);
  await page.getByLabel('Payment method').selectOption({ label: 'Test card (approved)' });
  await page.getByRole('button', { name: /Place order and pay/ }).click();
  const processing = page.getByTestId('checkout-status');
  await expect(processing).toHaveAttribute('data-state', 'processing', { timeout: 700 });
  await expect(processing).toContainText('Processing your order');

  await expect(page).toHaveURL(/\/orders\/[0-9a-f-]{36}\?version=\d+$/);
  const orderId = new URL(page.url()).pathname.split('/').pop()!;
  const status = page.getByTestId('order-status');
  await expect(status).toHaveAttribute('data-status', 'confirmed');
  const timeline = page.getByTestId('timeline').locator('li');
  await expect(timeline).toHaveCount(3);
  await expect(timeline.nth(0)).toContainText('Placed');
  await expect(timeline.nth(1)).toContainText('Paid');
  await expect(timeline.nth(2)).toContainText('Confirmed');
  await expect(page.getByTestId('order-lines')).toContainText('E2E checkout lamp');
  await expect(page.getByTestId('order-total')).toHaveText('25.00');
  await expect(page.getByTestId('order-paid')).toHaveText('25.00');
  await expect(page.getByTestId('cart-link')).toHaveText('Cart (0)');

  // Staff ship it elsewhere: the open page follows through the live feed.
  await signIn(request);
  const shipped = await request.post(`/api/orders/${orderId}/ship`, {
    data: { trackingNumber: 'E2E-TRACK-7' },
  });
  expect(shipped.status()).toBe(200);
  await expect(status).toHaveAttribute('data-status', 'shipped');
  await expect(page.getByTestId('tracking-number')).toHaveText('E2E-TRACK-7');
  await expect(timeline).toHaveCount(4);
  await expect(page.getByTestId('freshness')).toHaveAttribute('data-state', 'live');

  // Every status shown was a step forward, and all in this one document.
  const seen = await watched(page);
  expect(seen.__sameDocument).toBe(true);
  const statuses = seen.__statuses!;
  expect(statuses[statuses.length - 1]).toBe('shipped');
  expect(statuses).toContain('confirmed');
  const steps = statuses.map((s) => LIFECYCLE.indexOf(s));
  expect(steps.every((step, i) => step >= 0 && (i === 0 || step > steps[i - 1]))).toBe(true);

  await page.getByRole('link', { name: 'My orders' }).click();
  const card = page.locator(`[data-testid=order-card][data-order-id="${orderId}"]`);
  await expect(card).toContainText('Shipped');
  await expect(card).toContainText('25.00');
});

test('a declined card says so, the order ends cancelled, and the cart is kept for another try', async ({
  page,
  request,
}) => {
  const productId = await createProduct(request, 'E2E declined kettle', 15);
  await newCustomer(page.context().request, 'E2E Decliner');
  await addToCart(page, productId, 1);
  await page.goto('/checkout');
  await waitForLive(page);
  await page.getByLabel('Payment method').selectOption({ label: 'Test card (declined)' });
  await page.getByRole('button', { name: /Place order and pay/ }).click();

  await expect(page).toHaveURL(/\/orders\/[0-9a-f-]{36}/);
  await expect(page.getByTestId('payment-declined')).toContainText(
    'Your payment was declined: the card was declined.',
  );
  // The shop cancels it and releases its stock by itself; the page follows.
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'cancelled');
  await expect(page.getByTestId('order-status')).toContainText('Cancelled: payment declined.');
  const steps = page.getByTestId('timeline').locator('li');
  await expect(steps).toHaveCount(3);
  await expect(steps.nth(1)).toHaveAttribute('data-status', 'paymentDeclined');
  await expect(steps.nth(2)).toHaveAttribute('data-status', 'cancelled');
  await expect(page.getByTestId('order-paid')).toHaveText('0.00');
  await expect(page.getByTestId('cart-link')).toHaveText('Cart (1)');
  await expect.poll(async () => (await productJson(request, productId)).stock).toBe(5);

  // Another card works from the same cart.
  await page.getByRole('link', { name: 'try another payment method' }).click();
  await expect(page).toHaveURL(/\/checkout$/);
  await page.getByLabel('Payment method').selectOption({ label: 'Test card (approved)' });
  await page.getByRole('button', { name: /Place order and pay/ }).click();
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'confirmed');
  await expect(page.getByTestId('cart-link')).toHaveText('Cart (0)');
});

test('more than the stock is refused at checkout, naming the product, and nothing is ordered', async ({
  page,
  request,
}) => {
  const productId = await createProduct(request, 'E2E scarce vase', 11, 5);
  const customer = await newCustomer(page.context().request, 'E2E Hoarder');
  await addToCart(page, productId, 1);
  await page.goto('/cart');
  const line = page.getByTestId('cart-line');
  await line.getByLabel('Quantity').fill('6');
  await line.getByRole('button', { name: 'Update' }).click();
  await expect(line.getByTestId('stock-warning')).toHaveText('Only 5 left, and your cart has 6.');
  await expect(page.getByTestId('cart-total')).toHaveText('66.00');

  await page.getByTestId('checkout-link').click();
  await expect(page).toHaveURL(/\/checkout$/);
  await page.getByRole('button', { name: /Place order and pay/ }).click();
  await expect(page.getByTestId('checkout-error')).toHaveText(
    'Only 5 of “E2E scarce vase” left, and your cart has 6: lower the quantity to check out.',
  );
  await expect(page.getByTestId('checkout-line')).toHaveClass(/refused/);
  await expect(page).toHaveURL(/\/checkout$/);
  await expect(page.getByTestId('cart-link')).toHaveText('Cart (6)');
  const orders = await page.context().request.get(`/api/customers/${customer.id}/orders`);
  expect((await orders.json()).orders).toHaveLength(0);
  expect((await productJson(request, productId)).stock).toBe(5);
});

test('a cart below the minimum order says how much is missing and offers no checkout', async ({
  page,
  request,
}) => {
  const productId = await createProduct(request, 'E2E cheap pencil', 4);
  await addToCart(page, productId, 1);
  await page.goto('/cart');
  await expect(page.getByTestId('checkout-blockers')).toHaveText(
    'The minimum order is 10.00: add 6.00 more to check out.',
  );
  await expect(page.getByTestId('checkout-link')).toHaveCount(0);
  // Out of stock: the product page says so instead of offering the form.
  await signIn(request);
  const emptied = await request.post(`/api/products/${productId}/stock`, {
    data: { delta: -5, reason: 'E2E: sold elsewhere' },
  });
  expect(emptied.status()).toBe(200);
  await expect.poll(async () => (await productJson(request, productId)).stock).toBe(0);
  await page.goto(`/products/${productId}`);
  await expect(page.getByTestId('add-to-cart-unavailable')).toContainText('Out of stock');
  await expect(page.getByRole('button', { name: 'Add to cart' })).toBeDisabled();
  await page.goto('/cart');
  await expect(page.getByTestId('stock-warning')).toHaveText('Out of stock.');
});

test('the cart follows price and stock changes live and says when a price changed', async ({
  page,
  request,
}) => {
  const productId = await createProduct(request, 'E2E drifting teapot', 20, 5);
  await addToCart(page, productId, 2);
  await page.goto('/cart');
  await waitForLive(page);
  await expect(page.getByTestId('cart-total')).toHaveText('40.00');
  await expect(page.getByTestId('price-changed')).toHaveCount(0);
  await page.evaluate(() => ((window as unknown as Watched).__sameDocument = true));

  const repriced = await request.patch(`/api/products/${productId}`, { data: { price: 18 } });
  expect(repriced.status()).toBe(200);
  await expect(page.getByTestId('cart-total')).toHaveText('36.00');
  await expect(page.getByTestId('price-changed')).toHaveText(
    'Price changed since you added it: was 20.00, now 18.00.',
  );
  // A stock change leaves the product's version as it was; the cart follows it too.
  const sold = await request.post(`/api/products/${productId}/stock`, {
    data: { delta: -4, reason: 'E2E: sold elsewhere' },
  });
  expect(sold.status()).toBe(200);
  await expect(page.getByTestId('stock-warning')).toHaveText('Only 1 left, and your cart has 2.');
  expect((await watched(page)).__sameDocument).toBe(true);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the cart works with plain forms: add, change, remove', async ({ page, request }) => {
    const productId = await createProduct(request, 'E2E plain mug', 9);
    await page.goto(`/products/${productId}`);
    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await expect(page).toHaveURL(new RegExp(`/products/${productId}`));
    await expect(page.getByTestId('cart-link')).toHaveText('Cart (2)');

    await page.getByTestId('cart-link').click();
    await expect(page.getByTestId('cart-total')).toHaveText('18.00');
    await page.getByTestId('cart-line').getByLabel('Quantity').fill('3');
    await page.getByRole('button', { name: 'Update' }).click();
    await expect(page.getByTestId('cart-total')).toHaveText('27.00');
    await expect(page.getByTestId('cart-link')).toHaveText('Cart (3)');
    await page.getByRole('button', { name: /Remove/ }).click();
    await expect(page.getByTestId('cart-empty')).toBeVisible();
    await expect(page.getByTestId('cart-link')).toHaveText('Cart (0)');
  });

  test('checkout signs in with a return, refuses with the reason, and places the order', async ({
    page,
    request,
  }) => {
    const productId = await createProduct(request, 'E2E plain bowl', 12, 3);
    const customer = await newCustomer(request, 'E2E Plain Buyer');
    await page.goto(`/products/${productId}`);
    await page.getByLabel('Quantity').fill('3');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.goto('/cart');
    await page.getByTestId('cart-line').getByLabel('Quantity').fill('4');
    await page.getByRole('button', { name: 'Update' }).click();
    await expect(page.getByTestId('cart-link')).toHaveText('Cart (4)');

    await page.goto('/checkout');
    await expect(page).toHaveURL(/\/login\?next=\/checkout$/);
    await page.getByLabel('Email').fill(customer.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/checkout$/);

    // Refused: the form post comes back here, with the reason.
    await page.getByRole('button', { name: /Place order and pay/ }).click();
    await expect(page).toHaveURL(/\/checkout/);
    await expect(page.getByTestId('checkout-error')).toHaveText(
      'Only 3 of “E2E plain bowl” left, and your cart has 4: lower the quantity to check out.',
    );
    // Shown once.
    await page.reload();
    await expect(page.getByTestId('checkout-error')).toHaveCount(0);

    await page.goto('/cart');
    await page.getByTestId('cart-line').getByLabel('Quantity').fill('3');
    await page.getByRole('button', { name: 'Update' }).click();
    await page.goto('/checkout');
    await page.getByRole('button', { name: /Place order and pay/ }).click();
    await expect(page).toHaveURL(/\/orders\/[0-9a-f-]{36}\?version=2$/);
    await expect(page.getByTestId('order-status')).toHaveAttribute(
      'data-status',
      /^(paid|confirmed)$/,
    );
    await expect(page.getByTestId('order-total')).toHaveText('36.00');
    await expect(page.getByTestId('cart-link')).toHaveText('Cart (0)');
  });
});
