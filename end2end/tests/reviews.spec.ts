import { APIRequestContext, expect, request as playwrightRequest, test } from '@playwright/test';
import { ADMIN, createProduct, waitForLive } from './helpers';

/** A new customer account, through the JSON API; returns its credentials. */
async function signUp(request: APIRequestContext, name: string) {
  const who = { name, email: `${name.toLowerCase()}-${Date.now()}@e2e.example`, password: 'e2e customer password' };
  const response = await request.post('/api/auth/signup', { data: who });
  expect(response.status(), await response.text()).toBe(201);
  return who;
}

/** The customer orders and receives the product (staff ship and deliver). */
async function buyAndReceive(
  baseURL: string,
  customer: { email: string; password: string },
  productId: string,
) {
  const shopper = await playwrightRequest.newContext({ baseURL });
  const credentials = { email: customer.email, password: customer.password };
  expect((await shopper.post('/api/auth/login', { data: credentials })).status()).toBe(200);
  const placed = await shopper.post('/api/orders', {
    data: { items: [{ productId, quantity: 1 }] },
  });
  expect(placed.status(), await placed.text()).toBe(201);
  const { orderId } = await placed.json();
  expect((await shopper.post(`/api/orders/${orderId}/pay`, { data: {} })).status()).toBe(200);

  const staff = await playwrightRequest.newContext({ baseURL });
  expect((await staff.post('/api/auth/login', { data: ADMIN })).status()).toBe(200);
  // The order process confirms the paid order; then it can ship.
  await expect
    .poll(
      async () =>
        (await staff.post(`/api/orders/${orderId}/ship`, { data: { trackingNumber: 'E2E-1' } })).status(),
      { timeout: 15_000 },
    )
    .toBe(200);
  expect((await staff.post(`/api/orders/${orderId}/deliver`, { data: {} })).status()).toBe(200);
  await shopper.dispose();
  await staff.dispose();
}

test('a review submitted in another browser changes the rating on an open product page, live', async ({
  browser,
  request,
  baseURL,
}) => {
  const id = await createProduct(request, 'E2E reviewed teapot', 24);
  const customer = await signUp(request, 'Rita');
  await buyAndReceive(baseURL!, customer, id);

  // First browser: a shopper reading the product page.
  const reader = await browser.newContext();
  const page = await reader.newPage();
  await page.goto(`/products/${id}`);
  await waitForLive(page);
  await expect(page.getByTestId('product-rating')).toHaveText('No reviews yet');
  await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

  // Second browser: the customer signs in and reviews.
  const writer = await browser.newContext();
  const review = await writer.newPage();
  await review.goto(`/login?next=/products/${id}`);
  await review.getByLabel('Email').fill(customer.email);
  await review.getByLabel('Password').fill(customer.password);
  await review.getByRole('button', { name: 'Sign in' }).click();
  await expect(review.getByRole('heading', { level: 1 })).toHaveText('E2E reviewed teapot');
  await waitForLive(review);
  const form = review.getByTestId('review-form');
  await form.getByLabel('Rating').selectOption('4');
  await form.getByLabel('Your review').fill('Pours well, lid rattles a little.');
  await form.getByRole('button', { name: 'Submit review' }).click();
  await expect(review.getByTestId('review-status')).toHaveAttribute('data-state', 'confirmed');

  // The reader's page changed without a reload.
  await expect(page.getByTestId('product-rating')).toHaveText('4.0 out of 5 (1 review)');
  await expect(page.getByTestId('reviews')).toContainText('Pours well, lid rattles a little.');
  expect(
    await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument),
  ).toBe(true);

  // A second review by the same customer is refused with the reason.
  await review.reload();
  await waitForLive(review);
  await review.getByTestId('review-form').getByLabel('Your review').fill('Again!');
  await review.getByTestId('review-form').getByRole('button', { name: 'Submit review' }).click();
  await expect(review.getByTestId('review-form').getByRole('alert')).toContainText(/already/i);
  await reader.close();
  await writer.close();
});

test('a customer who has not received the product is told why they cannot review it', async ({
  browser,
  request,
}) => {
  const id = await createProduct(request, 'E2E unreviewed vase', 18);
  const customer = await signUp(request, 'Noor');
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`/login?next=/products/${id}`);
  await page.getByLabel('Email').fill(customer.email);
  await page.getByLabel('Password').fill(customer.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitForLive(page);
  const form = page.getByTestId('review-form');
  await form.getByLabel('Your review').fill('Looks nice in the photos.');
  await form.getByRole('button', { name: 'Submit review' }).click();
  await expect(form.getByRole('alert')).toContainText(/received/i);
  await context.close();
});
