import { expect, test } from '@playwright/test';
import { waitForLive } from './helpers';

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a shopper searches the server-rendered catalog and opens a product page', async ({ page, request }) => {
    const listing = await (await request.get('/api/products?q=walnut+desk+lamp')).json();
    const lamp = listing.products.find((p: { name: string }) => p.name === 'Walnut desk lamp');
    expect(lamp).toBeTruthy();
    await page.goto('/');
    await page.getByRole('searchbox', { name: 'Search the shop' }).fill('walnut lamp');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page).toHaveURL(/\/search\?q=walnut\+lamp/);
    const catalog = page.getByTestId('catalog');
    await expect(catalog).toContainText('Walnut desk lamp');
    await catalog.getByRole('link', { name: /Walnut desk lamp/ }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Walnut desk lamp');
    await expect(page.getByTestId('product-price')).toHaveText(lamp.price.toFixed(2));
    await expect(page.getByTestId('freshness')).toContainText('Updated');
  });
});

test('facets narrow a search and show how many products each choice leaves', async ({ page }) => {
  await page.goto('/search?q=lamp');
  const facets = page.getByTestId('facets');
  const home = facets.getByRole('link', { name: /^Home/ });
  await expect(home).toBeVisible();
  const count = Number((await home.textContent())!.match(/\((\d+)\)/)![1]);
  await home.click();
  await expect(page).toHaveURL(/category=Home/);
  await expect(page.getByTestId('result-count')).toHaveText(`${count} product${count === 1 ? '' : 's'}`);
  await expect(facets.getByRole('link', { name: /^Home/ })).toHaveAttribute('aria-current', 'true');
  await page.goto('/search?min_price=abc');
  await expect(page.getByRole('alert')).toContainText('Lowest price');
});

test('an unknown product is a 404 page', async ({ page }) => {
  const response = await page.goto('/products/01a20165-0000-7000-8000-000000000000');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});

test('a storefront page loads without the code of the cart, checkout, orders and admin pages, which comes when one is opened', async ({ page }) => {
  const wasm: string[] = [];
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith('.wasm')) wasm.push(path);
  });
  await page.goto('/');
  await waitForLive(page);
  expect(wasm).toEqual(['/pkg/vitrine.wasm']);
  // In-app navigation: the router fetches the cart page's module, then shows it.
  await page.getByTestId('cart-link').click();
  await expect(page.getByTestId('cart-empty')).toBeVisible();
  expect(wasm.filter((p) => p.includes('split___cart_view'))).toHaveLength(1);
  expect(wasm.some((p) => /checkout|orders|admin|sign_in/.test(p))).toBe(false);
});
